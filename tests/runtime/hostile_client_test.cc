// A hostile or broken peer against real `gorl learner` and `gorl refiner`
// processes: raw bytes over TCP, raw gRPC calls (grpc::GenericStub, any
// bytes to any method), messages with NaN, huge values, the wrong session,
// streams that never end and hundreds of idle streams. Afterwards a real
// `gorl actor` still joins and the run trains to its end, and the learner's
// memory stayed bounded. The learner listens on plaintext loopback TCP.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gorl/v1/services.grpc.pb.h"
#include "runtime/grpc_util.h"
#include "runtime/protocol.h"
#include "runtime/subprocess.h"
#include "tests/common/http_get.h"
#include "tests/runtime/role_processes.h"
#include "tests/test_files.h"
#include "tests/wait_until.h"

namespace gorl::runtime {
namespace {

using std::chrono::seconds;
using test_files::ReadFile;
using testing::ActorsPerUpdate;
using testing::AwaitListening;
using ::testing::Each;
using testing::EventRows;
using ::testing::Ge;
using testing::Join;
using testing::RolloutActorsPerUpdate;
using testing::ScrapeSample;
using testing::StartGorl;
using testing::WaitReadingProgress;

const std::vector<std::string>& kTiny = testing::TinyRun();
// twin-peaks: one observation, one action; kTiny unrolls 10 steps.
constexpr int kObs = 1, kAct = 1, kUnroll = 10, kEnvs = 8;

int PortOf(const std::string& address) {
  int port = 0;
  const size_t colon = address.rfind(':');
  EXPECT_TRUE(colon != std::string::npos && absl::SimpleAtoi(address.substr(colon + 1), &port))
      << address;
  return port;
}

// Writes `bytes` to 127.0.0.1:`port` over a plain TCP socket and reads
// until the server closes or 5 s pass. True when the connection was made.
bool SendRawTcp(int port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  if (connected) {
    send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    char buffer[4096];
    while (recv(fd, buffer, sizeof(buffer), 0) > 0) {
    }
  }
  close(fd);
  return connected;
}

std::string Garbage(size_t size) {
  std::string bytes(size, '\0');
  uint32_t state = 12345;
  for (char& c : bytes) {
    state = state * 1664525u + 1013904223u;
    c = static_cast<char>(state >> 24);
  }
  return bytes;
}

// A channel of its own (its own TCP connection), as a separate client has.
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// The next event of `cq` succeeded; false after a minute without one (a
// stream the transport holds back never starts).
bool Await(grpc::CompletionQueue& cq) {
  void* tag = nullptr;
  bool ok = false;
  return cq.AsyncNext(&tag, &ok, DeadlineIn(std::chrono::seconds(60))) ==
             grpc::CompletionQueue::GOT_EVENT &&
         ok;
}

// One raw call of `method`: the given messages as raw bytes, then the
// status the server ends it with.
grpc::Status RawCall(grpc::GenericStub& stub, const std::string& method,
                     const std::vector<std::string>& messages,
                     const std::map<std::string, std::string>& metadata = {}) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(seconds(60)));
  for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&context, method, &cq);
  call->StartCall(nullptr);
  bool open = Await(cq);
  for (const std::string& message : messages) {
    if (!open) break;
    grpc::Slice slice(message);
    grpc::ByteBuffer buffer(&slice, 1);
    call->Write(buffer, nullptr);
    open = Await(cq);
  }
  if (open) {
    call->WritesDone(nullptr);
    Await(cq);
  }
  // Read the answers until the server ends the call (Finish waits for them).
  grpc::ByteBuffer answer;
  do {
    call->Read(&answer, nullptr);
  } while (Await(cq));
  grpc::Status status;
  call->Finish(&status, nullptr);
  Await(cq);
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// kEnvs envs x kUnroll steps of finite, ordinary values.
v1::Rollout GoodRollout(int64_t version) {
  v1::Rollout r;
  r.set_encoder_version(version);
  r.set_num_envs(kEnvs);
  r.set_unroll_length(kUnroll);
  r.set_obs_size(kObs);
  r.set_latent_size(kAct);
  for (int i = 0; i < (kUnroll + 1) * kEnvs * kObs; ++i) r.add_observations(0.5f);
  for (int i = 0; i < kUnroll * kEnvs; ++i) {
    r.add_latents(0.1f);
    r.add_log_probs(-1.0f);
    r.add_rewards(1.0f);
    r.add_terminated(false);
    r.add_truncated(false);
  }
  return r;
}

int64_t RssKb(int pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      int64_t kb = 0;
      std::string digits;
      for (char c : line) {
        if (c >= '0' && c <= '9') digits += c;
      }
      if (absl::SimpleAtoi(digits, &kb)) return kb;
    }
  }
  ADD_FAILURE() << "no VmRSS for pid " << pid;
  return 0;
}

TEST(HostileClientTest, BrokenAndHostilePeersChangeNothingAndARealActorStillTrains) {
  const std::string dir = test_files::MakeTempDir("hostile");
  const int metrics_port = testutil::PickFreeLoopbackPort();
  std::unique_ptr<Child> refiner =
      StartGorl({"refiner", "--listen=127.0.0.1:0", "--insecure"}, dir + "/refiner.log");
  ASSERT_NE(refiner, nullptr);
  const std::string refiner_address = AwaitListening(*refiner);
  std::unique_ptr<Child> learner = StartGorl(
      Join({"learner", "--listen=127.0.0.1:0", "--insecure", "--refiner=" + refiner_address,
            "--run_dir=" + dir + "/run", "--progress_json", "--join_timeout_s=10",
            absl::StrCat("--metrics_port=", metrics_port), "--metrics_host=127.0.0.1",
            "total_env_steps=3200"},
           kTiny),
      dir + "/learner.log");
  ASSERT_NE(learner, nullptr);
  const std::string address = AwaitListening(*learner);
  ASSERT_FALSE(address.empty());

  // 1. Raw bytes on both ports: garbage, and HTTP/1.1 instead of HTTP/2.
  const std::string http = "GET / HTTP/1.1\r\nHost: learner\r\nConnection: close\r\n\r\n";
  for (int port : {PortOf(address), PortOf(refiner_address)}) {
    EXPECT_TRUE(SendRawTcp(port, Garbage(64 << 10)));
    EXPECT_TRUE(SendRawTcp(port, http));
  }

  // 2. Raw gRPC: malformed and oversized messages.
  grpc::GenericStub raw(OwnChannel(address));
  EXPECT_FALSE(RawCall(raw, "/gorl.v1.Learner/Join", {Garbage(1000)}).ok());
  EXPECT_FALSE(RawCall(raw, "/gorl.v1.Learner/Leave", {Garbage(100)}).ok());
  EXPECT_FALSE(
      RawCall(raw, "/gorl.v1.Learner/Send", {std::string(kMaxMessageBytes + 1024, 'x')}).ok());
  grpc::GenericStub raw_refiner(OwnChannel(refiner_address));
  EXPECT_FALSE(RawCall(raw_refiner, "/gorl.v1.Refiner/Refine", {Garbage(1000)}).ok());

  // 3. A hostile client that joins properly, then misbehaves.
  auto stub = v1::Learner::NewStub(OwnChannel(address));
  v1::JoinRequest join;
  join.set_actor_id("hostile");
  join.set_task("twin-peaks");
  join.set_obs_size(kObs);
  join.set_action_size(kAct);
  join.set_num_envs(kEnvs);
  join.set_protocol_version(kProtocolVersion);
  v1::JoinReply joined;
  {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(seconds(30)));
    ASSERT_TRUE(stub->Join(&context, join, &joined).ok());
  }
  // Malformed bytes inside the send stream of a valid session: the stream
  // ends (gRPC's sync reader reports them as its end).
  {
    v1::JoinRequest second = join;
    second.set_actor_id("hostile-2");
    grpc::ClientContext context;
    v1::JoinReply reply;
    ASSERT_TRUE(stub->Join(&context, second, &reply).ok());
    EXPECT_NE(RawCall(raw, "/gorl.v1.Learner/Send", {Garbage(5000)},
                      {{kActorIdMetadata, reply.actor_id()},
                       {kSessionMetadata, absl::StrCat(reply.session())}})
                  .error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  // An actor claiming far more envs than the run has is refused.
  join.set_actor_id("greedy");
  join.set_num_envs(65536);
  {
    grpc::ClientContext context;
    v1::JoinReply reply;
    EXPECT_EQ(stub->Join(&context, join, &reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  const std::map<std::string, std::string> session = {
      {kActorIdMetadata, joined.actor_id()}, {kSessionMetadata, absl::StrCat(joined.session())}};
  auto message_with = [&](const v1::Rollout& rollout) {
    v1::ActorMessage message;
    message.set_actor_id(joined.actor_id());
    message.set_session(joined.session());
    *message.mutable_rollout() = rollout;
    return message.SerializeAsString();
  };
  v1::Rollout nan = GoodRollout(0);
  for (float& v : *nan.mutable_observations()) v = std::nanf("");
  v1::Rollout huge = GoodRollout(0);
  for (float& r : *huge.mutable_rewards()) r = 3e38f;
  v1::Rollout padded_returns = GoodRollout(0);
  for (int i = 0; i < 100000; ++i) padded_returns.add_episode_returns(1.0f);
  for (const v1::Rollout& bad : {nan, huge, padded_returns}) {
    EXPECT_EQ(RawCall(raw, "/gorl.v1.Learner/Send", {message_with(bad)}, session).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Wrong sessions: a guessed number, and a message for another session
  // than its stream.
  const std::map<std::string, std::string> guessed = {
      {kActorIdMetadata, joined.actor_id()},
      {kSessionMetadata, absl::StrCat(joined.session() + 1)}};
  EXPECT_EQ(
      RawCall(raw, "/gorl.v1.Learner/Send", {message_with(GoodRollout(0))}, guessed).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(RawCall(raw, "/gorl.v1.Learner/Send", {}, {}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  {
    v1::LeaveRequest leave;
    leave.set_actor_id(joined.actor_id());
    leave.set_session(joined.session() ^ 0x5a5a);
    grpc::ClientContext context;
    v1::LeaveReply reply;
    EXPECT_EQ(stub->Leave(&context, leave, &reply).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  // The refusals were counted, by reason.
  EXPECT_THAT(ScrapeSample(metrics_port, "gorl_messages_refused_total", {"reason=\"non_finite\""}),
              ::testing::Optional(Ge(1.0)));
  EXPECT_THAT(
      ScrapeSample(metrics_port, "gorl_messages_refused_total", {"reason=\"out_of_range\""}),
      ::testing::Optional(Ge(1.0)));
  EXPECT_THAT(ScrapeSample(metrics_port, "gorl_messages_refused_total", {"reason=\"session\""}),
              ::testing::Optional(Ge(2.0)));

  // 4. A send stream that never ends, of the hostile session, which never
  // opens its policy stream: the join timeout (10 s) removes the session,
  // and with it the stream.
  grpc::ClientContext endless_context;
  endless_context.set_deadline(DeadlineIn(seconds(120)));
  for (const auto& [key, value] : session) endless_context.AddMetadata(key, value);
  v1::SendSummary endless_summary;
  auto endless = stub->Send(&endless_context, &endless_summary);
  EXPECT_EQ(endless->Finish().error_code(), grpc::StatusCode::CANCELLED)
      << "the learner ends the stream of a removed session";
  EXPECT_TRUE(gorl::testing::WaitUntil(
      [&] { return ScrapeSample(metrics_port, "gorl_connected_actors", {}) == 0.0; },
      std::chrono::milliseconds(60000)));

  // 5. 500 idle streams on 50 connections (the learner lets a connection
  // open 16 streams at once; more would wait at the client): 250 policy
  // streams whose request never comes (waiting at the transport, no handler
  // thread) and 250 send streams without a session (refused before anything
  // is read). Each pending stream costs the server a call arena and HTTP/2
  // stream state, a few kB; 100 MB (200 kB a stream) leaves room for
  // allocator noise and the learner's own work, and is far below the 2.85 GB
  // a queue of padded rollouts once reached.
  const int64_t rss_before = RssKb(learner->pid());
  constexpr int kConnections = 50, kPerConnection = 10;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (int i = 0; i < kConnections; ++i) {
    channels.push_back(OwnChannel(address));
    stubs.push_back(std::make_unique<grpc::GenericStub>(channels.back()));
  }
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::GenericClientAsyncReaderWriter>> calls;
  for (int i = 0; i < kConnections * kPerConnection; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(DeadlineIn(seconds(300)));
    const std::string method = i % 2 == 0 ? "/gorl.v1.Learner/Policy" : "/gorl.v1.Learner/Send";
    calls.push_back(stubs[i % kConnections]->PrepareCall(contexts.back().get(), method, &cq));
    calls.back()->StartCall(nullptr);
  }
  int started = 0;
  for (int i = 0; i < kConnections * kPerConnection; ++i) started += Await(cq);
  EXPECT_EQ(started, kConnections * kPerConnection);
  // Every connection still serves: a Join on each is answered (and, HTTP/2
  // streams being handled in order, its streams above have reached the
  // learner).
  for (const auto& channel : channels) {
    auto typed = v1::Learner::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(seconds(30)));
    v1::JoinRequest wrong = join;
    wrong.set_task("cheetah-run");
    v1::JoinReply reply;
    EXPECT_EQ(typed->Join(&context, wrong, &reply).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  const int64_t rss_during = RssKb(learner->pid());
  EXPECT_LT(rss_during - rss_before, 100 * 1024)
      << "learner RSS " << rss_before << " kB -> " << rss_during << " kB under 500 idle streams";
  std::printf("learner RSS %lld kB before, %lld kB with 500 idle streams\n",
              static_cast<long long>(rss_before), static_cast<long long>(rss_during));
  for (auto& context : contexts) context->TryCancel();
  std::vector<grpc::Status> statuses(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) calls[i]->Finish(&statuses[i], nullptr);
  for (size_t i = 0; i < calls.size(); ++i) {
    void* tag;
    bool ok;
    cq.Next(&tag, &ok);
  }
  cq.Shutdown();
  {
    void* tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
    }
  }

  // 6. A real actor joins and the run trains to its end, with the refiner
  // that took the garbage (the run refines once, at its stage boundary).
  std::unique_ptr<Child> actor = StartGorl(
      Join({"actor", "--insecure", "--learner=" + address, "--actor_id=honest", "--actor_envs=8"},
           kTiny),
      dir + "/actor.log");
  ASSERT_NE(actor, nullptr);
  ASSERT_TRUE(WaitReadingProgress(*learner, seconds(300))) << ReadFile(dir + "/learner.log");
  EXPECT_EQ(learner->exit_code(), 0) << ReadFile(dir + "/learner.log");
  EXPECT_FALSE(ActorsPerUpdate(dir + "/run").empty()) << ReadFile(dir + "/learner.log");
  EXPECT_THAT(RolloutActorsPerUpdate(dir + "/run"), Each(1));
  EXPECT_EQ(EventRows(dir + "/run", "refine").size(), 1u) << ReadFile(dir + "/learner.log");
  ASSERT_TRUE(actor->Wait(seconds(60))) << ReadFile(dir + "/actor.log");
  EXPECT_EQ(actor->exit_code(), 0) << ReadFile(dir + "/actor.log");
  EXPECT_EQ(refiner->Terminate(seconds(10)), 0);
}

// An actor pointed at the refiner's port used to retry UNIMPLEMENTED
// forever; it exits non-zero at once.
TEST(HostileClientTest, AnActorPointedAtTheRefinerExitsWithAnError) {
  const std::string dir = test_files::MakeTempDir("wrong-port");
  std::unique_ptr<Child> refiner =
      StartGorl({"refiner", "--listen=127.0.0.1:0", "--insecure"}, dir + "/refiner.log");
  ASSERT_NE(refiner, nullptr);
  const std::string refiner_address = AwaitListening(*refiner);
  std::unique_ptr<Child> actor = StartGorl(
      Join({"actor", "--insecure", "--learner=" + refiner_address, "--actor_envs=2"}, kTiny),
      dir + "/actor.log");
  ASSERT_NE(actor, nullptr);
  ASSERT_TRUE(actor->Wait(seconds(60))) << ReadFile(dir + "/actor.log");
  EXPECT_NE(actor->exit_code(), 0) << ReadFile(dir + "/actor.log");
  EXPECT_EQ(refiner->Terminate(seconds(10)), 0);
}

}  // namespace
}  // namespace gorl::runtime
