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

#include <grpcpp/generic/generic_stub.h>

#include "runtime/grpc_util.h"
#include "runtime/protocol.h"
#include "tests/runtime/fake_messages.h"
#include "tests/wait_until.h"

namespace gorl::runtime {
namespace {

using ::gorl::testing::WaitUntil;
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
    AddSession(policy_context_);
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

  // The stream metadata a real actor sends.
  void AddSession(grpc::ClientContext& context) const {
    context.AddMetadata(kActorIdMetadata, joined_.actor_id());
    context.AddMetadata(kSessionMetadata, std::to_string(joined_.session()));
  }

  bool Send(v1::ActorMessage message) {
    if (writer_ == nullptr) {
      AddSession(send_context_);
      writer_ = stub_->Send(&send_context_, &summary_);
    }
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

// A stream's session is checked from its metadata before anything is read:
// a stream without a valid one ends at once, without the client writing or
// closing anything (the deadline would answer otherwise).
TEST_F(LearnerServiceTest, StreamsWithoutAValidSessionAreRefusedBeforeAnythingIsRead) {
  ScriptedActor actor(address_, "a", 2);
  auto stub = v1::Learner::NewStub(MakeChannel(address_, ClientCredentials::Plaintext()));
  auto send_status = [&](const std::string& id, const std::optional<uint64_t>& session) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(seconds(10)));
    if (!id.empty()) context.AddMetadata(kActorIdMetadata, id);
    if (session) context.AddMetadata(kSessionMetadata, std::to_string(*session));
    v1::SendSummary summary;
    auto writer = stub->Send(&context, &summary);
    return writer->Finish();
  };
  const uint64_t session = actor.joined().session();
  EXPECT_EQ(send_status("", std::nullopt).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(send_status("intruder", session).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(send_status("a", session ^ 1).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(seconds(10)));
  context.AddMetadata(kActorIdMetadata, "a");
  context.AddMetadata(kSessionMetadata, std::to_string(session + 1));
  auto reader = stub->Policy(&context, v1::PolicyRequest());
  v1::PolicySnapshot snapshot;
  EXPECT_FALSE(reader->Read(&snapshot));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(group_->connected_actors(), 1);
}

TEST_F(LearnerServiceTest, ASessionHoldsOnePolicyAndTwoSendStreams) {
  ScriptedActor actor(address_, "a", 2);  // holds its policy stream
  auto stub = v1::Learner::NewStub(MakeChannel(address_, ClientCredentials::Plaintext()));
  ASSERT_TRUE(
      WaitUntil([&] { return group_->open_streams(ActorFleet::StreamKind::kPolicy) == 1; }));
  grpc::ClientContext policy;
  policy.set_deadline(DeadlineIn(seconds(10)));
  actor.AddSession(policy);
  auto reader = stub->Policy(&policy, v1::PolicyRequest());
  v1::PolicySnapshot snapshot;
  EXPECT_FALSE(reader->Read(&snapshot));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  // Two idle send streams are fine (held open, unread); a third is refused.
  grpc::ClientContext send1, send2, send3;
  v1::SendSummary summary1, summary2, summary3;
  for (grpc::ClientContext* c : {&send1, &send2, &send3}) {
    actor.AddSession(*c);
    c->set_deadline(DeadlineIn(seconds(10)));
  }
  auto writer1 = stub->Send(&send1, &summary1);
  auto writer2 = stub->Send(&send2, &summary2);
  v1::ActorMessage message;  // a message makes sure each stream was admitted
  message.set_actor_id("a");
  message.set_session(actor.joined().session());
  message.mutable_eval_report();
  ASSERT_TRUE(writer1->Write(message));
  ASSERT_TRUE(writer2->Write(message));
  ASSERT_TRUE(WaitUntil([&] { return group_->open_streams(ActorFleet::StreamKind::kSend) == 2; }));
  auto writer3 = stub->Send(&send3, &summary3);
  EXPECT_EQ(writer3->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  send1.TryCancel();
  send2.TryCancel();
  writer1->Finish();
  writer2->Finish();
}

// A silent send stream would hold a server thread until its peer closed it;
// once its session is gone, the learner ends it.
TEST_F(LearnerServiceTest, ASendStreamEndsWhenItsSessionIsRemoved) {
  ScriptedActor actor(address_, "a", 2);
  auto stub = v1::Learner::NewStub(MakeChannel(address_, ClientCredentials::Plaintext()));
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(seconds(20)));
  actor.AddSession(context);
  v1::SendSummary summary;
  auto writer = stub->Send(&context, &summary);
  ASSERT_TRUE(WaitUntil([&] { return group_->open_streams(ActorFleet::StreamKind::kSend) == 1; }));
  actor.Leave();
  const grpc::Status status = writer->Finish();  // no WritesDone: only the learner can end it
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();
}

// Bytes that are no ActorMessage end the stream at once (gRPC's sync reader
// reports them as the end of the stream, so the learner answers as to a
// closed one), without holding the handler until the client goes.
TEST_F(LearnerServiceTest, UnparsableBytesInAValidStreamEndIt) {
  ScriptedActor actor(address_, "a", 2);
  grpc::GenericStub raw(MakeChannel(address_, ClientCredentials::Plaintext()));
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(seconds(20)));
  actor.AddSession(context);
  grpc::CompletionQueue cq;
  auto call = raw.PrepareCall(&context, "/gorl.v1.Learner/Send", &cq);
  void* tag;
  bool ok;
  call->StartCall(nullptr);
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::string garbage(5000, '\xff');
  grpc::Slice slice(garbage);
  grpc::ByteBuffer buffer(&slice, 1);
  call->Write(buffer, nullptr);
  cq.Next(&tag, &ok);
  // No WritesDone: only the learner can end the stream. Read what it
  // answers until it ends, then its status.
  grpc::ByteBuffer answer;
  do {
    call->Read(&answer, nullptr);
  } while (cq.Next(&tag, &ok) && ok);
  grpc::Status status;
  call->Finish(&status, nullptr);
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  EXPECT_NE(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(group_->open_streams(ActorFleet::StreamKind::kSend), 0);
}

TEST_F(LearnerServiceTest, AMessageNamingAnotherSessionThanItsStreamIsRefused) {
  ScriptedActor a(address_, "a", 2), b(address_, "b", 2);
  ASSERT_TRUE(group_->Broadcast(Snapshot(1, v1::ACTOR_MODE_TRAIN)).ok());
  grpc::ClientContext context;
  a.AddSession(context);
  v1::SendSummary summary;
  auto stub = v1::Learner::NewStub(MakeChannel(address_, ClientCredentials::Plaintext()));
  auto writer = stub->Send(&context, &summary);
  v1::ActorMessage message;
  message.set_actor_id("b");
  message.set_session(b.joined().session());
  *message.mutable_rollout() = Rollout(1, 2);
  writer->Write(message);
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("another session"));
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
  v1::JoinRequest join;
  join.set_actor_id("a");
  join.set_task("toy");
  join.set_obs_size(kObs);
  join.set_action_size(kAct);
  join.set_num_envs(1);
  join.set_protocol_version(kProtocolVersion);
  v1::JoinReply joined;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub->Join(&context, join, &joined).ok());
  }
  grpc::ClientContext context;
  context.AddMetadata(kActorIdMetadata, joined.actor_id());
  context.AddMetadata(kSessionMetadata, std::to_string(joined.session()));
  v1::PolicyRequest request;
  auto reader = stub->Policy(&context, request);
  group_->Finish();
  v1::PolicySnapshot snapshot;
  while (reader->Read(&snapshot)) {
  }
  EXPECT_TRUE(reader->Finish().ok());
}

}  // namespace
}  // namespace gorl::runtime
