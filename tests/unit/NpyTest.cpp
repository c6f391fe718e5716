//===- NpyTest.cpp - .npy files -------------------------------------------===//
#include "diffuse/io.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

using namespace diffuse::rt;

static std::string tmp(const char *name) { return ::testing::TempDir() + name; }

TEST(Npy, RoundTripFloat64) {
  std::vector<double> v = {1.5, -2.25, 3e-300, 1e300, 0.1, 7};
  std::string err;
  ASSERT_TRUE(writeNpy(tmp("a.npy"), {2, 3}, v, err)) << err;
  NpyArray a;
  ASSERT_TRUE(readNpy(tmp("a.npy"), a, err)) << err;
  EXPECT_EQ(a.shape, (std::vector<long>{2, 3}));
  EXPECT_EQ(a.data, v);
}

TEST(Npy, RoundTripFloat32RoundsOnce) {
  std::vector<double> v = {0.1, 1.0 / 3.0};
  std::string err;
  ASSERT_TRUE(writeNpy(tmp("b.npy"), {2}, v, err, /*f32=*/true)) << err;
  NpyArray a;
  ASSERT_TRUE(readNpy(tmp("b.npy"), a, err)) << err;
  EXPECT_EQ(a.shape, (std::vector<long>{2}));
  EXPECT_EQ(a.data[0], (double)0.1f);
  EXPECT_EQ(a.data[1], (double)(1.0f / 3.0f));
}

TEST(Npy, HeaderIsAlignedAndReadableByNumpyRules) {
  std::string err;
  ASSERT_TRUE(writeNpy(tmp("c.npy"), {4, 2}, std::vector<double>(8, 1.0), err));
  std::ifstream in(tmp("c.npy"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(bytes.substr(1, 5), "NUMPY");
  size_t hlen = (unsigned char)bytes[8] | ((unsigned char)bytes[9] << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u);
  EXPECT_NE(bytes.find("'shape': (4,2)"), std::string::npos);
  EXPECT_EQ(bytes.size(), 10 + hlen + 8 * 8);
}

TEST(Npy, ErrorsSayWhatIsWrong) {
  std::string err;
  NpyArray a;
  EXPECT_FALSE(readNpy(tmp("missing.npy"), a, err));
  EXPECT_NE(err.find("cannot open"), std::string::npos);
  std::ofstream(tmp("bad.npy")) << "hello";
  EXPECT_FALSE(readNpy(tmp("bad.npy"), a, err));
  EXPECT_NE(err.find("is not a .npy file"), std::string::npos);
}
