// The seed-stream registry: no two streams of one parent seed share an id,
// for any index a run can reach, and the first indices keep the ids that
// earlier releases used (same config and seed, same run).
#include "common/seed_streams.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

namespace gorl {
namespace {

TEST(SeedStreamsTest, DenseIndicesKeepTheHistoricalIds) {
  EXPECT_EQ(SeedStreamId(SeedStream::kEval), 101u);
  EXPECT_EQ(SeedStreamId(SeedStream::kCollect, 2), 204u);
  EXPECT_EQ(SeedStreamId(SeedStream::kReinit, 3), 306u);
  EXPECT_EQ(SeedStreamId(SeedStream::kActorEnvs, 0), 404u);
  EXPECT_EQ(SeedStreamId(SeedStream::kRefine, 1), 506u);
  EXPECT_EQ(SeedFor(7, SeedStream::kActorEnvs, 5), DeriveSeed(7, 409));
}

TEST(SeedStreamsTest, NoTwoRunStreamsShareAnId) {
  const std::vector<SeedStream> fixed = {SeedStream::kEval, SeedStream::kEncoderInit,
                                         SeedStream::kCriticInit, SeedStream::kShuffle,
                                         SeedStream::kEntropy};
  const std::vector<SeedStream> indexed = {SeedStream::kCollect,       SeedStream::kReinit,
                                           SeedStream::kActorEnvs,     SeedStream::kRefine,
                                           SeedStream::kRefineBackoff, SeedStream::kFidelity};
  std::set<uint64_t> ids;
  size_t count = 0;
  for (SeedStream stream : fixed) {
    ids.insert(SeedStreamId(stream));
    ++count;
  }
  // Every dense index, the switch to the sparse range, and indices far
  // beyond anything a run reaches (a million actor joins, decoders, stages).
  for (SeedStream stream : indexed) {
    for (uint64_t index = 0; index < 2000; ++index) {
      ids.insert(SeedStreamId(stream, index));
      ++count;
    }
    for (uint64_t index : {uint64_t{1} << 20, uint64_t{1} << 30, (uint64_t{1} << 40) - 1}) {
      ids.insert(SeedStreamId(stream, index));
      ++count;
    }
  }
  EXPECT_EQ(ids.size(), count);
}

TEST(SeedStreamsTest, TheActorEnvStreamNoLongerRunsIntoTheRefineStream) {
  // The old scheme gave join 101 the id of refinement 0 (404 + 101 = 505).
  EXPECT_NE(SeedStreamId(SeedStream::kActorEnvs, 101), SeedStreamId(SeedStream::kRefine, 0));
  EXPECT_NE(SeedFor(3, SeedStream::kActorEnvs, 101), SeedFor(3, SeedStream::kRefine, 0));
}

}  // namespace
}  // namespace gorl
