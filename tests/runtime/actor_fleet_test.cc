// ActorFleet, the learner's transport-free bookkeeping of its actors, driven
// directly: no gRPC, no sockets, no LibTorch. (learner_service_test.cc runs
// the same rules through the gRPC adapter.)
#include "runtime/actor_fleet.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "runtime/protocol.h"
#include "tests/runtime/fake_messages.h"
#include "tests/wait_until.h"

namespace gorl::runtime {
namespace {

using ::gorl::testing::WaitUntil;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

using testing::kAct;
using testing::kObs;
using testing::Rollout;
using testing::Snapshot;

v1::JoinRequest JoinRequest(const std::string& id, int envs) {
  v1::JoinRequest request;
  request.set_actor_id(id);
  request.set_task("toy");
  request.set_obs_size(kObs);
  request.set_action_size(kAct);
  request.set_num_envs(envs);
  request.set_protocol_version(kProtocolVersion);
  return request;
}

class ActorFleetTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(1); }
  void Make(int min_actors) {
    ActorFleetOptions options;
    options.task = "toy";
    options.obs_size = kObs;
    options.action_size = kAct;
    options.unroll_length = 2;
    options.queue_capacity = 4;
    options.min_actors = min_actors;
    fleet_.reset();
    metrics_ = RoleMetrics::Unserved("learner", "");
    fleet_ = std::make_unique<ActorFleet>(options, *metrics_);
  }
  v1::JoinReply Join(const std::string& id, int envs = 2) {
    absl::StatusOr<v1::JoinReply> reply = fleet_->Join(JoinRequest(id, envs), "test");
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.value_or(v1::JoinReply());
  }
  // The next snapshot for `who`; fails the test on an error or the end.
  std::optional<v1::PolicySnapshot> Next(const v1::JoinReply& who,
                                         ActorFleet::PolicyCursor& cursor) {
    auto next = fleet_->NextPolicy(who.session(), who.actor_id(), cursor, nullptr);
    EXPECT_TRUE(next.ok()) << next.status();
    return next.ok() ? *next : std::nullopt;
  }

  std::unique_ptr<RoleMetrics> metrics_;
  std::unique_ptr<ActorFleet> fleet_;
};

TEST_F(ActorFleetTest, JoinChecksTheHandshakeAndNamesBothSides) {
  v1::JoinRequest request = JoinRequest("a", 2);
  request.set_obs_size(5);
  absl::StatusOr<v1::JoinReply> reply = fleet_->Join(request, "peer");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(reply.status().message(), HasSubstr("actor has obs_size 5"));
  EXPECT_THAT(reply.status().message(), HasSubstr("learner has obs_size 3"));
  request = JoinRequest("a", 2);
  request.set_task("other");
  EXPECT_EQ(fleet_->Join(request, "peer").status().code(), absl::StatusCode::kFailedPrecondition);
  request = JoinRequest("a", 2);
  request.set_protocol_version(kProtocolVersion - 1);
  EXPECT_THAT(fleet_->Join(request, "peer").status().message(),
              HasSubstr("protocol version mismatch"));
  EXPECT_EQ(fleet_->Join(JoinRequest("a", 0), "peer").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fleet_->connected_actors(), 0);
  // Unnamed actors get distinct ids.
  EXPECT_NE(Join("").actor_id(), Join("").actor_id());
  EXPECT_EQ(fleet_->connected_actors(), 2);
}

TEST_F(ActorFleetTest, AJoinWithAConnectedIdReplacesTheOldSession) {
  const v1::JoinReply first = Join("a");
  const v1::JoinReply second = Join("a");
  EXPECT_NE(first.session(), second.session());
  EXPECT_EQ(fleet_->connected_actors(), 1);
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(1, v1::ACTOR_MODE_TRAIN)).ok());
  ActorFleet::PolicyCursor cursor;
  auto old = fleet_->NextPolicy(first.session(), "a", cursor, nullptr);
  EXPECT_EQ(old.status().code(), absl::StatusCode::kFailedPrecondition);
  ActorFleet::PolicyCursor current;
  EXPECT_TRUE(Next(second, current).has_value());
}

TEST_F(ActorFleetTest, APolicyStreamGetsTheNewestSnapshotWithItsWorkAndThenWaits) {
  const v1::JoinReply a = Join("a");
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(1, v1::ACTOR_MODE_TRAIN)).ok());
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(2, v1::ACTOR_MODE_TRAIN)).ok());
  ActorFleet::PolicyCursor cursor;
  std::optional<v1::PolicySnapshot> snapshot = Next(a, cursor);
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->encoder_version(), 2) << "no backlog: the newest only";
  EXPECT_TRUE(snapshot->work().has_train());
  EXPECT_EQ(snapshot->work().train().unroll_length(), 2);
  // Nothing new: the call waits until its peer goes away, which removes it.
  std::atomic<bool> gone{false};
  auto waiting = std::async(std::launch::async, [&] {
    return fleet_->NextPolicy(a.session(), "a", cursor, [&] { return gone.load(); });
  });
  EXPECT_EQ(waiting.wait_for(milliseconds(300)), std::future_status::timeout);
  gone = true;
  EXPECT_EQ(waiting.get().status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(fleet_->connected_actors(), 0);
}

TEST_F(ActorFleetTest, RolloutsAreCheckedQueuedAndGatheredForTheCurrentVersionOnly) {
  const v1::JoinReply a = Join("a", 3);
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(5, v1::ACTOR_MODE_TRAIN)).ok());
  v1::SendSummary summary;
  v1::ActorMessage message;
  message.set_actor_id("a");
  message.set_session(a.session());
  *message.mutable_rollout() = Rollout(5, 2);  // joined with 3 envs
  EXPECT_EQ(fleet_->HandleMessage(message, summary, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  *message.mutable_rollout() = Rollout(4, 3);  // stale
  ASSERT_TRUE(fleet_->HandleMessage(message, summary, nullptr).ok());
  *message.mutable_rollout() = Rollout(5, 3);
  ASSERT_TRUE(fleet_->HandleMessage(message, summary, nullptr).ok());
  EXPECT_EQ(summary.rollouts_dropped(), 1);
  EXPECT_EQ(summary.rollouts_accepted(), 1);
  absl::StatusOr<std::vector<v1::Rollout>> gathered = fleet_->GatherRollouts(3, 2);
  ASSERT_TRUE(gathered.ok()) << gathered.status();
  ASSERT_EQ(gathered->size(), 1u);
  EXPECT_EQ((*gathered)[0].encoder_version(), 5);
  // A session nobody opened is refused.
  message.set_session(a.session() + 1000);
  EXPECT_EQ(fleet_->HandleMessage(message, summary, nullptr).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ActorFleetTest, AShareGoesBackWhenItsActorsStreamBreaks) {
  const v1::JoinReply a = Join("a"), b = Join("b");
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(1, v1::ACTOR_MODE_EVAL)).ok());
  auto evaluated = std::async(std::launch::async, [&] { return fleet_->Evaluate(4, true, 7); });
  ActorFleet::PolicyCursor cursor_a, cursor_b;
  std::optional<v1::Work> work_a, work_b;
  ASSERT_TRUE(WaitUntil([&] {
    if (!work_a) {
      std::optional<v1::PolicySnapshot> s = Next(a, cursor_a);
      if (s && s->work().has_eval()) work_a = s->work();
    }
    if (!work_b) {
      std::optional<v1::PolicySnapshot> s = Next(b, cursor_b);
      if (s && s->work().has_eval()) work_b = s->work();
    }
    return work_a && work_b;
  }));
  fleet_->StreamBroke(a.session(), "a", "test");
  EXPECT_EQ(fleet_->connected_actors(), 1);
  auto report = [&](const v1::Work& work) {
    v1::ActorMessage message;
    message.set_actor_id("b");
    message.set_session(b.session());
    message.set_work_id(work.id());
    message.mutable_eval_report()->set_deterministic(true);
    for (int i = 0; i < work.eval().episodes(); ++i) {
      message.mutable_eval_report()->add_episode_returns(static_cast<float>(work.id()));
    }
    v1::SendSummary summary;
    return fleet_->HandleMessage(message, summary, nullptr);
  };
  ASSERT_TRUE(report(*work_b).ok());
  // b, free again, is handed a's share.
  std::optional<v1::Work> taken_over;
  ASSERT_TRUE(WaitUntil([&] {
    std::optional<v1::PolicySnapshot> s = Next(b, cursor_b);
    if (s && s->work().id() == work_a->id()) taken_over = s->work();
    return taken_over.has_value();
  }));
  ASSERT_TRUE(report(*taken_over).ok());
  absl::StatusOr<v1::EvalReport> result = evaluated.get();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->episode_returns_size(), 4);
}

TEST_F(ActorFleetTest, TheFirstBroadcastWaitsForMinActors) {
  Make(2);
  const v1::JoinReply a = Join("a");
  auto broadcast = std::async(std::launch::async,
                              [&] { return fleet_->Broadcast(Snapshot(1, v1::ACTOR_MODE_TRAIN)); });
  EXPECT_EQ(broadcast.wait_for(milliseconds(300)), std::future_status::timeout)
      << "one of two actors: the run must not start";
  const v1::JoinReply b = Join("b");
  ASSERT_TRUE(broadcast.get().ok());
  ActorFleet::PolicyCursor cursor_a, cursor_b;
  EXPECT_EQ(Next(a, cursor_a)->encoder_version(), 1);
  EXPECT_EQ(Next(b, cursor_b)->encoder_version(), 1);
  // Later broadcasts do not wait, even with fewer actors.
  fleet_->StreamBroke(b.session(), "b", "test");
  EXPECT_TRUE(fleet_->Broadcast(Snapshot(2, v1::ACTOR_MODE_TRAIN)).ok());
}

TEST_F(ActorFleetTest, LeaveFinishAndShutdownEndWhatWaits) {
  const v1::JoinReply a = Join("a");
  v1::LeaveRequest leave;
  leave.set_actor_id("a");
  leave.set_session(a.session() + 1);
  EXPECT_EQ(fleet_->Leave(leave).code(), absl::StatusCode::kFailedPrecondition);
  leave.set_session(a.session());
  EXPECT_TRUE(fleet_->Leave(leave).ok());
  EXPECT_EQ(fleet_->connected_actors(), 0);

  const v1::JoinReply b = Join("b");
  ActorFleet::PolicyCursor cursor;
  auto waiting = std::async(std::launch::async,
                            [&] { return fleet_->NextPolicy(b.session(), "b", cursor, nullptr); });
  fleet_->Finish();
  auto ended = waiting.get();
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_FALSE(ended->has_value()) << "the run is over: the stream ends OK";

  fleet_->Shutdown();
  EXPECT_EQ(fleet_->GatherRollouts(1, 2).status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(fleet_->Join(JoinRequest("c", 1), "peer").status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace gorl::runtime
