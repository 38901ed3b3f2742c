// ActorFleet, the learner's transport-free bookkeeping of its actors, driven
// directly: no gRPC, no sockets, no LibTorch. (learner_service_test.cc runs
// the same rules through the gRPC adapter.)
#include "runtime/actor_fleet.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <memory>
#include <optional>
#include <set>
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
  void Make(int min_actors, std::chrono::seconds refused_data_timeout = std::chrono::seconds(0)) {
    ActorFleetOptions options;
    options.refused_data_timeout = refused_data_timeout;
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
    auto next = fleet_->NextPolicy(who.session(), who.actor_id(), "test", cursor, nullptr);
    EXPECT_TRUE(next.ok()) << next.status();
    return next.ok() ? *next : std::nullopt;
  }

  // `who`'s report on its eval share `work`, every episode returning `value`.
  absl::Status ReportEval(const v1::JoinReply& who, const v1::Work& work, bool deterministic,
                          float value = 1.0f) {
    v1::ActorMessage message;
    message.set_actor_id(who.actor_id());
    message.set_session(who.session());
    message.set_work_id(work.id());
    message.mutable_eval_report()->set_deterministic(deterministic);
    for (int i = 0; i < work.eval().episodes(); ++i) {
      message.mutable_eval_report()->add_episode_returns(value);
    }
    v1::SendSummary summary;
    return fleet_->HandleMessage(message, "test", summary, nullptr);
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

TEST_F(ActorFleetTest, TheSameProcessRejoiningReplacesItsOldSession) {
  v1::JoinRequest request = JoinRequest("a", 2);
  request.set_incarnation(7);
  const absl::StatusOr<v1::JoinReply> first = fleet_->Join(request, "test");
  const absl::StatusOr<v1::JoinReply> second = fleet_->Join(request, "test");
  ASSERT_TRUE(first.ok() && second.ok()) << first.status() << second.status();
  EXPECT_NE(first->session(), second->session());
  EXPECT_EQ(fleet_->connected_actors(), 1);
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(1, v1::ACTOR_MODE_TRAIN)).ok());
  ActorFleet::PolicyCursor cursor;
  auto old = fleet_->NextPolicy(first->session(), "a", "test", cursor, nullptr);
  EXPECT_EQ(old.status().code(), absl::StatusCode::kFailedPrecondition);
  ActorFleet::PolicyCursor current;
  EXPECT_TRUE(Next(*second, current).has_value());
}

// Two actors started with one --actor_id used to evict each other in a
// loop (14 joins in 25 s): now the second is refused and the first keeps
// its session; once the first is gone, the id is free again.
TEST_F(ActorFleetTest, ASecondActorWithAnIdInUseIsRefusedAndTheFirstKeepsItsSession) {
  v1::JoinRequest request = JoinRequest("a", 2);
  request.set_incarnation(1);
  const absl::StatusOr<v1::JoinReply> first = fleet_->Join(request, "host-1");
  ASSERT_TRUE(first.ok()) << first.status();
  ActorFleet::PolicyCursor cursor;
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(1, v1::ACTOR_MODE_TRAIN)).ok());
  ASSERT_TRUE(fleet_->NextPolicy(first->session(), "a", "host-1", cursor, nullptr).ok());

  request.set_incarnation(2);
  for (int attempt = 0; attempt < 5; ++attempt) {  // the other actor's retries
    EXPECT_EQ(fleet_->Join(request, "host-2").status().code(), absl::StatusCode::kAlreadyExists);
  }
  request.set_incarnation(1);  // an id and incarnation copied by another host
  EXPECT_EQ(fleet_->Join(request, "host-2").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(fleet_->connected_actors(), 1);
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(2, v1::ACTOR_MODE_TRAIN)).ok());
  auto next = fleet_->NextPolicy(first->session(), "a", "host-1", cursor, nullptr);
  ASSERT_TRUE(next.ok()) << next.status() << ": the first actor must keep its session";
  EXPECT_EQ((*next)->encoder_version(), 2);

  // The first actor's process dies: a restarted one gets the id back.
  fleet_->StreamBroke(first->session(), "a", "test");
  request.set_incarnation(3);
  absl::StatusOr<v1::JoinReply> restarted = fleet_->Join(request, "host-2");
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_EQ(restarted->actor_id(), "a");
}

TEST_F(ActorFleetTest, SessionNumbersAreUnguessableAndAnswerOnlyToThePeerThatJoined) {
  std::set<uint64_t> sessions;
  bool high_bits = false;
  for (int i = 0; i < 32; ++i) {
    absl::StatusOr<v1::JoinReply> joined = fleet_->Join(JoinRequest("", 1), "crowd");
    ASSERT_TRUE(joined.ok()) << joined.status();
    sessions.insert(joined->session());
    high_bits = high_bits || joined->session() > (uint64_t{1} << 40);
  }
  EXPECT_EQ(sessions.size(), 32u);
  EXPECT_TRUE(high_bits) << "64 random bits, not a counter";
  for (uint64_t s : sessions) EXPECT_EQ(sessions.count(s + 1), 0u) << "not sequential";

  const absl::StatusOr<v1::JoinReply> a = fleet_->Join(JoinRequest("a", 2), "host-a");
  ASSERT_TRUE(a.ok());
  // Another peer that learned a's id and session can do nothing with them.
  v1::LeaveRequest leave;
  leave.set_actor_id("a");
  leave.set_session(a->session());
  EXPECT_EQ(fleet_->Leave(leave, "host-b").code(), absl::StatusCode::kFailedPrecondition);
  ActorFleet::PolicyCursor cursor;
  EXPECT_EQ(fleet_->NextPolicy(a->session(), "a", "host-b", cursor, nullptr).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fleet_->OpenStream(ActorFleet::StreamKind::kSend, a->session(), "a", "host-b")
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(1, v1::ACTOR_MODE_TRAIN)).ok());
  v1::ActorMessage message;
  message.set_actor_id("a");
  message.set_session(a->session());
  *message.mutable_rollout() = Rollout(1, 2);
  v1::SendSummary summary;
  EXPECT_EQ(fleet_->HandleMessage(message, "host-b", summary, nullptr).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(summary.rollouts_accepted(), 0);
  EXPECT_EQ(fleet_->connected_actors(), 33) << "a is still there";
  // a itself can.
  EXPECT_TRUE(fleet_->HandleMessage(message, "host-a", summary, nullptr).ok());
  EXPECT_TRUE(fleet_->Leave(leave, "host-a").ok());
  EXPECT_EQ(fleet_->connected_actors(), 32);
}

TEST_F(ActorFleetTest, StreamsPerSessionAndSessionsAreLimited) {
  ActorFleetOptions options;
  options.task = "toy";
  options.obs_size = kObs;
  options.action_size = kAct;
  options.max_actors = 2;
  fleet_ = std::make_unique<ActorFleet>(options, *metrics_);
  const v1::JoinReply a = Join("a"), b = Join("b");
  EXPECT_EQ(fleet_->Join(JoinRequest("c", 1), "test").status().code(),
            absl::StatusCode::kResourceExhausted);
  using Kind = ActorFleet::StreamKind;
  {
    auto policy = fleet_->OpenStream(Kind::kPolicy, a.session(), "a", "test");
    ASSERT_TRUE(policy.ok()) << policy.status();
    EXPECT_EQ(fleet_->OpenStream(Kind::kPolicy, a.session(), "a", "test").status().code(),
              absl::StatusCode::kResourceExhausted);
    auto send1 = fleet_->OpenStream(Kind::kSend, a.session(), "a", "test");
    auto send2 = fleet_->OpenStream(Kind::kSend, a.session(), "a", "test");
    ASSERT_TRUE(send1.ok() && send2.ok());
    EXPECT_EQ(fleet_->OpenStream(Kind::kSend, a.session(), "a", "test").status().code(),
              absl::StatusCode::kResourceExhausted);
    // Limits are per session.
    EXPECT_TRUE(fleet_->OpenStream(Kind::kPolicy, b.session(), "b", "test").ok());
  }
  // Closed streams free their slots.
  EXPECT_TRUE(fleet_->OpenStream(Kind::kPolicy, a.session(), "a", "test").ok());
  v1::LeaveRequest leave;
  leave.set_actor_id("b");
  leave.set_session(b.session());
  ASSERT_TRUE(fleet_->Leave(leave, "test").ok());
  EXPECT_TRUE(fleet_->Join(JoinRequest("c", 1), "test").ok());
}

// `gorl actor --actor_envs 20000` killed right after joining kept its share
// for --share_timeout_s, shrank every other actor's unroll budget and
// counted as connected forever.
TEST_F(ActorFleetTest, ASessionThatNeverOpensItsPolicyStreamIsRemovedAndFreesItsShare) {
  ActorFleetOptions options;
  options.task = "toy";
  options.obs_size = kObs;
  options.action_size = kAct;
  options.unroll_length = 2;
  options.join_timeout = milliseconds(500);
  fleet_ = std::make_unique<ActorFleet>(options, *metrics_);
  Join("silent", 1000);
  const v1::JoinReply b = Join("b", 2);
  ActorFleet::PolicyCursor cursor_b;
  // The budget of train work counts only actors that follow their stream:
  // 4 sequences over b's 2 envs are 2 unrolls (not 1, as over 1002 envs).
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(1, v1::ACTOR_MODE_TRAIN)).ok());
  ASSERT_TRUE(Next(b, cursor_b).has_value());
  auto gathered = std::async(std::launch::async, [&] { return fleet_->GatherRollouts(4, 2); });
  std::optional<v1::PolicySnapshot> with_budget = Next(b, cursor_b);
  ASSERT_TRUE(with_budget.has_value());
  EXPECT_EQ(with_budget->work().train().max_unrolls(), 2);
  fleet_->Shutdown();
  EXPECT_FALSE(gathered.get().ok());

  // An eval share handed to the silent session goes back once it is
  // removed, and b finishes the job.
  fleet_ = std::make_unique<ActorFleet>(options, *metrics_);
  const v1::JoinReply silent2 = Join("silent", 1000);
  const v1::JoinReply c = Join("c", 2);
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(1, v1::ACTOR_MODE_EVAL)).ok());
  auto evaluated = std::async(std::launch::async, [&] { return fleet_->Evaluate(4, true, 7); });
  ActorFleet::PolicyCursor cursor_c;
  int reported = 0;
  ASSERT_TRUE(WaitUntil([&] {
    std::optional<v1::PolicySnapshot> s = Next(c, cursor_c);
    if (!s || !s->work().has_eval()) return false;
    EXPECT_TRUE(ReportEval(c, s->work(), /*deterministic=*/true).ok());
    return ++reported == 2;  // its own share and the silent one's
  }));
  absl::StatusOr<v1::EvalReport> report = evaluated.get();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->episode_returns_size(), 4);
  EXPECT_EQ(fleet_->connected_actors(), 1) << "the silent session was removed";
  // A session of its own with nobody left also goes: back to 0 connected.
  ActorFleet::PolicyCursor cursor_silent;
  EXPECT_FALSE(
      fleet_->NextPolicy(silent2.session(), "silent", "test", cursor_silent, nullptr).ok());
  fleet_->StreamBroke(c.session(), "c", "test");
  Join("late", 1);
  EXPECT_TRUE(WaitUntil([&] { return fleet_->connected_actors() == 0; }));
}

TEST_F(ActorFleetTest, FiniteButHugeValuesAndExtraEpisodeReturnsAreRefused) {
  const v1::JoinReply a = Join("a", 2);
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(1, v1::ACTOR_MODE_TRAIN)).ok());
  v1::ActorMessage message;
  message.set_actor_id("a");
  message.set_session(a.session());
  v1::SendSummary summary;
  *message.mutable_rollout() = Rollout(1, 2);
  message.mutable_rollout()->set_rewards(1, 3e38f);
  absl::Status status = fleet_->HandleMessage(message, "test", summary, nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("rollout.rewards[1]"));
  *message.mutable_rollout() = Rollout(1, 2);
  message.mutable_rollout()->set_observations(0, -2e7f);
  EXPECT_EQ(fleet_->HandleMessage(message, "test", summary, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  // No episode ended in the unroll, yet it claims returns.
  *message.mutable_rollout() = Rollout(1, 2);
  for (int i = 0; i < 1000; ++i) message.mutable_rollout()->add_episode_returns(1.0f);
  status = fleet_->HandleMessage(message, "test", summary, nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("episode_returns"));
  // One that did end may report its return.
  *message.mutable_rollout() = Rollout(1, 2);
  message.mutable_rollout()->set_terminated(0, true);
  message.mutable_rollout()->add_episode_returns(12.5f);
  EXPECT_TRUE(fleet_->HandleMessage(message, "test", summary, nullptr).ok());
  EXPECT_EQ(summary.rollouts_accepted(), 1);
}

// A diverged policy's actors send values beyond the message bounds, and
// every one of their rollouts is refused: the run must stop with the reason
// instead of waiting for data that cannot come (a livelock seen in an FPO run).
TEST_F(ActorFleetTest, WhenEveryActorsDataIsRefusedTheWaitForRolloutsFailsWithTheReason) {
  const v1::JoinReply a = Join("a", 2), b = Join("b", 2);
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(1, v1::ACTOR_MODE_TRAIN)).ok());
  auto send = [&](const v1::JoinReply& who, bool bad) {
    v1::ActorMessage message;
    message.set_actor_id(who.actor_id());
    message.set_session(who.session());
    *message.mutable_rollout() = Rollout(1, 2);
    if (bad) message.mutable_rollout()->set_rewards(0, 2e6f);
    v1::SendSummary summary;
    return fleet_->HandleMessage(message, "test", summary, nullptr).code();
  };
  auto gathered = std::async(std::launch::async, [&] { return fleet_->GatherRollouts(100, 2); });
  // a: refusals broken by an accepted rollout, then more than enough in a row.
  for (int i = 1; i < ActorFleet::kDataRefusalsBeforeFailing; ++i) {
    EXPECT_EQ(send(a, true), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(send(a, false), absl::StatusCode::kOk);
  for (int i = 0; i < 2 * ActorFleet::kDataRefusalsBeforeFailing; ++i) {
    EXPECT_EQ(send(a, true), absl::StatusCode::kInvalidArgument);
  }
  // b's data still arrives (it has sent none yet): the gather waits.
  EXPECT_EQ(gathered.wait_for(milliseconds(500)), std::future_status::timeout);
  for (int i = 1; i < ActorFleet::kDataRefusalsBeforeFailing; ++i) {
    EXPECT_EQ(send(b, true), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(gathered.wait_for(milliseconds(500)), std::future_status::timeout)
      << "b has one refusal fewer than it takes";
  EXPECT_EQ(send(b, true), absl::StatusCode::kInvalidArgument);
  // Without the check the gather would wait for ever: end it to fail.
  if (gathered.wait_for(std::chrono::seconds(60)) != std::future_status::ready) fleet_->Shutdown();
  const absl::StatusOr<std::vector<v1::Rollout>> result = gathered.get();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("rollout.rewards[0]"));
  EXPECT_THAT(result.status().message(), HasSubstr("diverged"));
}

TEST_F(ActorFleetTest, RefusedDataEndsAWaitOnlyAfterTheTimeoutAndCollectsAndEvalsToo) {
  // Within the timeout, refusals alone do not end the wait: a peer sending
  // garbage before the real actors have joined cannot stop the run.
  Make(1, std::chrono::seconds(3600));
  const v1::JoinReply a = Join("a", 2);
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(1, v1::ACTOR_MODE_TRAIN)).ok());
  v1::ActorMessage message;
  message.set_actor_id("a");
  message.set_session(a.session());
  *message.mutable_rollout() = Rollout(1, 2);
  message.mutable_rollout()->set_rewards(0, std::nanf(""));
  v1::SendSummary summary;
  for (int i = 0; i < 3 * ActorFleet::kDataRefusalsBeforeFailing; ++i) {
    EXPECT_FALSE(fleet_->HandleMessage(message, "test", summary, nullptr).ok());
  }
  auto gathered = std::async(std::launch::async, [&] { return fleet_->GatherRollouts(2, 2); });
  EXPECT_EQ(gathered.wait_for(milliseconds(500)), std::future_status::timeout);
  fleet_->Shutdown();
  EXPECT_EQ(gathered.get().status().code(), absl::StatusCode::kCancelled);

  // Evaluations wait on results the same way: reports that are all refused
  // end the evaluation.
  Make(1);
  const v1::JoinReply b = Join("b", 2);
  ASSERT_TRUE(fleet_->Broadcast(Snapshot(1, v1::ACTOR_MODE_EVAL)).ok());
  auto evaluated = std::async(std::launch::async, [&] { return fleet_->Evaluate(4, true, 7); });
  ActorFleet::PolicyCursor cursor;
  int refused = 0;
  ASSERT_TRUE(WaitUntil([&] {
    std::optional<v1::PolicySnapshot> s = Next(b, cursor);
    if (!s || !s->work().has_eval()) return false;
    // The share asks for deterministic returns.
    if (!ReportEval(b, s->work(), /*deterministic=*/false).ok()) ++refused;
    return refused >= ActorFleet::kDataRefusalsBeforeFailing;
  }));
  if (evaluated.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    fleet_->Shutdown();
  }
  const absl::StatusOr<v1::EvalReport> result = evaluated.get();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("wrong deterministic flag"));
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
    return fleet_->NextPolicy(a.session(), "a", "test", cursor, [&] { return gone.load(); });
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
  EXPECT_EQ(fleet_->HandleMessage(message, "test", summary, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  *message.mutable_rollout() = Rollout(4, 3);  // stale
  ASSERT_TRUE(fleet_->HandleMessage(message, "test", summary, nullptr).ok());
  *message.mutable_rollout() = Rollout(5, 3);
  message.mutable_rollout()->set_actor_id("someone-else");
  ASSERT_TRUE(fleet_->HandleMessage(message, "test", summary, nullptr).ok());
  EXPECT_EQ(summary.rollouts_dropped(), 1);
  EXPECT_EQ(summary.rollouts_accepted(), 1);
  absl::StatusOr<std::vector<v1::Rollout>> gathered = fleet_->GatherRollouts(3, 2);
  ASSERT_TRUE(gathered.ok()) << gathered.status();
  ASSERT_EQ(gathered->size(), 1u);
  EXPECT_EQ((*gathered)[0].encoder_version(), 5);
  // Credited to the session that sent it, whatever the rollout claimed.
  EXPECT_EQ((*gathered)[0].actor_id(), "a");
  // A session nobody opened is refused.
  message.set_session(a.session() + 1000);
  EXPECT_EQ(fleet_->HandleMessage(message, "test", summary, nullptr).code(),
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
    return ReportEval(b, work, /*deterministic=*/true, static_cast<float>(work.id()));
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
  EXPECT_EQ(fleet_->Leave(leave, "test").code(), absl::StatusCode::kFailedPrecondition);
  leave.set_session(a.session());
  EXPECT_TRUE(fleet_->Leave(leave, "test").ok());
  EXPECT_EQ(fleet_->connected_actors(), 0);

  const v1::JoinReply b = Join("b");
  ActorFleet::PolicyCursor cursor;
  auto waiting = std::async(std::launch::async, [&] {
    return fleet_->NextPolicy(b.session(), "b", "test", cursor, nullptr);
  });
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
