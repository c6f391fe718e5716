//===- FrontendTest.cpp - parser, Sema and diagnostics as a library -------===//
#include "compiler/Frontend/Parser.h"
#include "compiler/Frontend/Sema.h"

#include <gtest/gtest.h>

#include <sstream>

using namespace diffuse;

TEST(Frontend, ParsesDeclarationsWithLocations) {
  std::ostringstream err;
  DiagEngine diag(err);
  ast::Module m;
  ASSERT_TRUE(parseText("x.dfs", "process p {\n  alpha(t) = 1 - t\n  sigma(t) = t\n}\n", {}, diag, m))
      << err.str();
  ASSERT_EQ(m.decls.size(), 1u);
  EXPECT_EQ(m.decls[0].kind, "process");
  EXPECT_EQ(m.decls[0].items.size(), 2u);
  EXPECT_EQ(m.decls[0].items[1].loc.line, 3);
  EXPECT_EQ(m.decls[0].items[1].loc.col, 3);
}

TEST(Frontend, PowerBindsTighterThanNegation) {
  std::ostringstream err, os;
  DiagEngine diag(err);
  ast::Module m;
  ASSERT_TRUE(parseText("x.dfs", "process p { alpha(t) = -t^2 * 3  sigma(t) = t }", {}, diag, m));
  ast::print(os, *m.decls[0].items[0].value);
  EXPECT_EQ(os.str(), "(* (neg (^ t 2)) 3)");
}

TEST(Frontend, ClosestMatchSuggestsNearNames) {
  EXPECT_EQ(closestMatch("denoize", {"denoise", "eps", "pf_ode"}), "denoise");
  EXPECT_EQ(closestMatch("zzz", {"denoise", "eps"}), "");
}

TEST(Frontend, OverrideReplacesASetting) {
  std::ostringstream err;
  DiagEngine diag(err);
  ast::Module m;
  ASSERT_TRUE(parseText("x.dfs", "guidance cfg(w = 7.5) { combine = uncond + w * (cond - uncond) }",
                        {}, diag, m));
  ASSERT_TRUE(applyOverride(m, "cfg.w=3", diag));
  EXPECT_EQ(m.decls[0].params[0].defaultValue->number, 3);
  EXPECT_FALSE(applyOverride(m, "cgf.w=3", diag));
  EXPECT_NE(err.str().find("did you mean 'cfg'?"), std::string::npos);
}
