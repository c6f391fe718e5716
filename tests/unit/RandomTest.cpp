//===- RandomTest.cpp - the counter-based RNG -----------------------------===//
#include "diffuse/random.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace diffuse::rt;

// Known-answer vectors of Philox4x32-10 (Random123's kat_vectors).
TEST(Philox, KnownAnswers) {
  auto r = philox4x32({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(r[0], 0x6627e8d5u);
  EXPECT_EQ(r[1], 0xe169c58du);
  EXPECT_EQ(r[2], 0xbc57ac4cu);
  EXPECT_EQ(r[3], 0x9b00dbd8u);
  r = philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(r[0], 0x408f276du);
  EXPECT_EQ(r[1], 0x41c83b0eu);
  EXPECT_EQ(r[2], 0xa20bc7c6u);
  EXPECT_EQ(r[3], 0x6d5451fdu);
  r = philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u});
  EXPECT_EQ(r[0], 0xd16cfe09u);
  EXPECT_EQ(r[1], 0x94fdccebu);
  EXPECT_EQ(r[2], 0x5001e420u);
  EXPECT_EQ(r[3], 0x24126ea1u);
}

// A sample's noise depends on (seed, sample, draw, element) only: computing
// it alone or as part of a whole row gives the same bits.
TEST(Normal, IndependentOfHowItIsComputed) {
  double row[7];
  normals(42, 123456789012ull, 3, 7, row);
  for (int e = 0; e < 7; ++e)
    EXPECT_EQ(row[e], normal(42, 123456789012ull, 3, (uint32_t)e));
  EXPECT_NE(normal(42, 0, 0, 0), normal(43, 0, 0, 0));
  EXPECT_NE(normal(42, 0, 0, 0), normal(42, 1, 0, 0));
  EXPECT_NE(normal(42, 0, 0, 0), normal(42, 0, 1, 0));
}

TEST(Normal, MomentsOfAMillionDraws) {
  const int N = 1 << 20;
  double s1 = 0, s2 = 0, s4 = 0;
  int tail = 0;
  for (int i = 0; i < N; ++i) {
    double z = normal(7, (uint64_t)(i / 16), 0, (uint32_t)(i % 16));
    s1 += z;
    s2 += z * z;
    s4 += z * z * z * z;
    tail += std::fabs(z) > 1.959963985;
  }
  EXPECT_NEAR(s1 / N, 0.0, 5.0 / std::sqrt((double)N));
  EXPECT_NEAR(s2 / N, 1.0, 5.0 * std::sqrt(2.0 / N));
  EXPECT_NEAR(s4 / N, 3.0, 5.0 * std::sqrt(96.0 / N));
  EXPECT_NEAR((double)tail / N, 0.05, 5.0 * std::sqrt(0.05 * 0.95 / N));
}
