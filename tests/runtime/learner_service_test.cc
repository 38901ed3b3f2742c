// LearnerService + ActorFleet over real gRPC on loopback, with scripted actors: the
// learner's side of the protocol without LibTorch or environments.
#include "runtime/grpc_learner_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "runtime/grpc_util.h"
#include "runtime/protocol.h"
#include "tests/runtime/fake_messages.h"

namespace gorl::runtime {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

using testing::kAct;
using testing::kObs;
using testing::Rollout;
using testing::Snapshot;

// One scripted actor: joins, follows its Policy stream, sends on demand.
class ScriptedActor {
 public:
  ScriptedActor(const std::string& address, const std::string& id, int envs)
      : stub_(v1::Learner::NewStub(MakeChannel(address, ClientCredentials::Plaintext()))) {
    v1::JoinRequest request;
    request.set_actor_id(id);
    request.set_task("toy");
    request.set_obs_size(kObs);
    request.set_action_size(kAct);
    request.set_num_envs(envs);
    request.set_protocol_version(kProtocolVersion);
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(seconds(5)));
    join_status_ = stub_->Join(&context, request, &joined_);
    if (!join_status_.ok()) return;
    v1::PolicyRequest policy;
    policy.set_actor_id(joined_.actor_id());
    policy.set_session(joined_.session());
    reader_ = stub_->Policy(&policy_context_, policy);
    thread_ = std::thread([this] {
      v1::PolicySnapshot snapshot;
      while (reader_->Read(&snapshot)) {
        std::lock_guard<std::mutex> lock(mu_);
        snapshots_.push_back(snapshot);
        changed_.notify_all();
      }
      reader_->Finish();
    });
  }
  ~ScriptedActor() {
    policy_context_.TryCancel();
    if (thread_.joinable()) thread_.join();
    CloseSend();
  }

  const grpc::Status& join_status() const { return join_status_; }
  const v1::JoinReply& joined() const { return joined_; }

  // Waits for a snapshot whose work satisfies `match`.
  std::optional<v1::Work> AwaitWork(const std::function<bool(const v1::Work&)>& match) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<v1::Work> found;
    changed_.wait_for(lock, seconds(10), [&] {
      for (const v1::PolicySnapshot& s : snapshots_) {
        if (match(s.work())) found = s.work();
      }
      return found.has_value();
    });
    return found;
  }

  bool Send(v1::ActorMessage message) {
    if (writer_ == nullptr) writer_ = stub_->Send(&send_context_, &summary_);
    message.set_actor_id(joined_.actor_id());
    message.set_session(joined_.session());
    return writer_->Write(message);
  }
  grpc::Status CloseSend() {
    if (writer_ == nullptr) return grpc::Status::OK;
    writer_->WritesDone();
    grpc::Status status = writer_->Finish();
    writer_.reset();
    return status;
  }
  const v1::SendSummary& summary() const { return summary_; }

  void Leave() {
    grpc::ClientContext context;
    v1::LeaveRequest request;
    request.set_actor_id(joined_.actor_id());
    request.set_session(joined_.session());
    v1::LeaveReply reply;
    ASSERT_TRUE(stub_->Leave(&context, request, &reply).ok());
  }

 private:
  std::unique_ptr<v1::Learner::Stub> stub_;
  grpc::Status join_status_;
  v1::JoinReply joined_;
  grpc::ClientContext policy_context_;
  std::unique_ptr<grpc::ClientReader<v1::PolicySnapshot>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<v1::PolicySnapshot> snapshots_;
  grpc::ClientContext send_context_;
  v1::SendSummary summary_;
  std::unique_ptr<grpc::ClientWriter<v1::ActorMessage>> writer_;
};

class LearnerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ActorFleetOptions options;
    options.task = "toy";
    options.obs_size = kObs;
    options.action_size = kAct;
    options.unroll_length = 2;
    options.queue_capacity = 2;
    metrics_ = RoleMetrics::Unserved("learner", "");
    group_ = std::make_unique<ActorFleet>(options, *metrics_);
    service_ = std::make_unique<LearnerService>(*group_, *metrics_);
    absl::StatusOr<std::unique_ptr<grpc::Server>> server =
        StartServer("127.0.0.1:0", {service_.get()}, {TransportSecurity::Insecure()}, &address_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  void TearDown() override {
    group_->Shutdown();
    server_->Shutdown(DeadlineIn(seconds(2)));
  }

  std::unique_ptr<RoleMetrics> metrics_;
  std::unique_ptr<ActorFleet> group_;
  std::unique_ptr<LearnerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(LearnerServiceTest, GatherUsesCurrentRolloutsOnlyAndSlicesToTheRequest) {
  ScriptedActor actor(address_, "a", 3);
  ASSERT_TRUE(actor.join_status().ok()) << actor.join_status().error_message();
  ASSERT_TRUE(group_->Broadcast(Snapshot(5, v1::ACTOR_MODE_TRAIN)).ok());
  ASSERT_TRUE(actor.AwaitWork([](const v1::Work& w) { return w.has_train(); }).has_value());
  auto gathered = std::async(std::launch::async, [&] { return group_->GatherRollouts(4, 2); });
  v1::ActorMessage message;
  *message.mutable_rollout() = Rollout(4, 3);  // stale: dropped
  ASSERT_TRUE(actor.Send(message));
  *message.mutable_rollout() = Rollout(5, 3);
  ASSERT_TRUE(actor.Send(message));
  ASSERT_TRUE(actor.Send(message));
  absl::StatusOr<std::vector<v1::Rollout>> rollouts = gathered.get();
  ASSERT_TRUE(rollouts.ok()) << rollouts.status();
  int envs = 0;
  for (const v1::Rollout& r : *rollouts) {
    EXPECT_EQ(r.encoder_version(), 5);
    envs += r.num_envs();
  }
  EXPECT_EQ(envs, 4) << "3 + 1 of the second rollout; its other 2 envs wait for the next batch";
  ASSERT_TRUE(actor.CloseSend().ok());
  EXPECT_EQ(actor.summary().rollouts_dropped(), 1);
  EXPECT_EQ(actor.summary().rollouts_accepted(), 2);
}

TEST_F(LearnerServiceTest, AMalformedMessageIsRefusedAndEverythingBeforeItIsKept) {
  ScriptedActor actor(address_, "a", 2);
  ASSERT_TRUE(group_->Broadcast(Snapshot(1, v1::ACTOR_MODE_TRAIN)).ok());
  v1::ActorMessage good;
  *good.mutable_rollout() = Rollout(1, 2);
  v1::ActorMessage bad = good;
  bad.mutable_rollout()->set_rewards(0, std::nanf(""));
  ASSERT_TRUE(actor.Send(good));
  actor.Send(bad);
  const grpc::Status status = actor.CloseSend();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("rollout.rewards[0] is not finite"));
  absl::StatusOr<std::vector<v1::Rollout>> rollouts = group_->GatherRollouts(2, 2);
  ASSERT_TRUE(rollouts.ok());
  EXPECT_EQ(rollouts->size(), 1u);
}

TEST_F(LearnerServiceTest, MessagesFromAnActorThatNeverJoinedAreRefused) {
  ScriptedActor actor(address_, "a", 2);
  auto stub = v1::Learner::NewStub(MakeChannel(address_, ClientCredentials::Plaintext()));
  grpc::ClientContext context;
  v1::SendSummary summary;
  auto writer = stub->Send(&context, &summary);
  v1::ActorMessage message;
  message.set_actor_id("intruder");
  message.set_session(actor.joined().session());
  *message.mutable_rollout() = Rollout(0, 2);
  writer->Write(message);
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("has not joined"));
}

TEST_F(LearnerServiceTest, TheShareOfAnActorThatLeavesGoesToAnother) {
  ScriptedActor a(address_, "a", 2), b(address_, "b", 2);
  ASSERT_TRUE(group_->Broadcast(Snapshot(1, v1::ACTOR_MODE_EVAL)).ok());
  auto evaluated = std::async(std::launch::async, [&] { return group_->Evaluate(6, true, 11); });
  auto is_eval = [](const v1::Work& w) { return w.has_eval(); };
  std::optional<v1::Work> work_a = a.AwaitWork(is_eval), work_b = b.AwaitWork(is_eval);
  ASSERT_TRUE(work_a.has_value() && work_b.has_value());
  EXPECT_NE(work_a->id(), work_b->id());
  EXPECT_EQ(work_a->eval().episodes() + work_b->eval().episodes(), 6);
  a.Leave();  // without reporting
  auto report_share = [&](const v1::Work& work) {
    v1::ActorMessage message;
    message.set_work_id(work.id());
    message.mutable_eval_report()->set_deterministic(true);
    for (int i = 0; i < work.eval().episodes(); ++i) {
      message.mutable_eval_report()->add_episode_returns(static_cast<float>(work.id()));
    }
    return b.Send(message);
  };
  ASSERT_TRUE(report_share(*work_b));
  // Only now is b free to take over a's share.
  std::optional<v1::Work> taken_over =
      b.AwaitWork([&](const v1::Work& w) { return w.id() == work_a->id(); });
  ASSERT_TRUE(taken_over.has_value());
  ASSERT_TRUE(report_share(*taken_over));
  absl::StatusOr<v1::EvalReport> report = evaluated.get();
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->episode_returns_size(), 6);
  // Share order, not arrival order: a's share came first.
  EXPECT_EQ(report->episode_returns(0), static_cast<float>(std::min(work_a->id(), work_b->id())));
}

TEST_F(LearnerServiceTest, CollectJoinsChunksAndWaitsForAnActor) {
  ASSERT_TRUE(group_->Broadcast(Snapshot(1, v1::ACTOR_MODE_COLLECT)).ok());
  auto collected = std::async(std::launch::async, [&] { return group_->Collect(10, 2, 3); });
  ASSERT_EQ(collected.wait_for(milliseconds(300)), std::future_status::timeout)
      << "no actor: Collect waits";
  ScriptedActor a(address_, "a", 2);
  std::optional<v1::Work> work = a.AwaitWork([](const v1::Work& w) { return w.has_collect(); });
  ASSERT_TRUE(work.has_value());
  ASSERT_EQ(work->collect().pairs(), 10);
  for (int chunk = 0; chunk < 2; ++chunk) {
    v1::ActorMessage message;
    message.set_work_id(work->id());
    message.set_last_chunk(chunk == 1);
    v1::RefinementData* data = message.mutable_refinement();
    data->set_obs_size(kObs);
    data->set_action_size(kAct);
    for (int i = 0; i < 5 * kObs; ++i) data->add_observations(static_cast<float>(chunk));
    for (int i = 0; i < 5 * kAct; ++i) data->add_actions(0.0f);
    ASSERT_TRUE(a.Send(message));
  }
  absl::StatusOr<v1::RefinementData> data = collected.get();
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->observations_size(), 10 * kObs);
  EXPECT_EQ(data->observations(0), 0.0f);
  EXPECT_EQ(data->observations(5 * kObs), 1.0f);
}

TEST_F(LearnerServiceTest, JoinChecksTaskSizesAndProtocol) {
  auto stub = v1::Learner::NewStub(MakeChannel(address_, ClientCredentials::Plaintext()));
  v1::JoinRequest request;
  request.set_task("toy");
  request.set_obs_size(kObs);
  request.set_action_size(kAct);
  request.set_num_envs(1);
  request.set_protocol_version(kProtocolVersion + 1);
  auto join = [&] {
    grpc::ClientContext context;
    v1::JoinReply reply;
    return stub->Join(&context, request, &reply);
  };
  grpc::Status status = join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("protocol version mismatch"));
  request.set_protocol_version(kProtocolVersion);
  request.set_num_envs(0);
  EXPECT_EQ(join().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.set_num_envs(1);
  EXPECT_TRUE(join().ok());
  EXPECT_EQ(group_->connected_actors(), 1);
}

TEST_F(LearnerServiceTest, FinishEndsPolicyStreamsCleanly) {
  auto stub = v1::Learner::NewStub(MakeChannel(address_, ClientCredentials::Plaintext()));
  ScriptedActor a(address_, "a", 1);
  grpc::ClientContext context;
  v1::PolicyRequest request;
  request.set_actor_id(a.joined().actor_id());
  request.set_session(a.joined().session());
  auto reader = stub->Policy(&context, request);
  group_->Finish();
  v1::PolicySnapshot snapshot;
  while (reader->Read(&snapshot)) {
  }
  EXPECT_TRUE(reader->Finish().ok());
}

}  // namespace
}  // namespace gorl::runtime
