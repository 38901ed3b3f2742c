// grpc.health.v1 on the learner and the refiner, the actors' heartbeat
// gauge, and `gorl health`: the service over real gRPC, then real role
// processes (a learner stopped by SIGTERM and resumed from its checkpoint,
// a refiner, an actor without a learner) probed the way Kubernetes and
// Docker probe them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gorl/v1/checkpoint.pb.h"
#include "gorl/v1/services.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "learner/checkpoint.h"
#include "runtime/grpc_util.h"
#include "runtime/health_check.h"
#include "runtime/health_service.h"
#include "runtime/protocol.h"
#include "runtime/subprocess.h"
#include "tests/common/http_get.h"
#include "tests/runtime/role_processes.h"
#include "tests/status_matchers.h"
#include "tests/test_files.h"
#include "tests/wait_until.h"

namespace gorl::runtime {
namespace {

using gorl::testing::StatusIs;
using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using std::chrono::seconds;
using test_files::ReadFile;
using testing::Join;

constexpr int64_t kStepsPerIteration = 160;  // testing::TinyRun()

// The roles' channel settings: reconnects within 5 s of a server coming up
// (gRPC's default backoff reaches minutes).
std::unique_ptr<Health::Stub> HealthStub(const std::string& address) {
  return Health::NewStub(MakeChannel(address, ClientCredentials::Plaintext()));
}

// One Check; its status, or the RPC's error code.
struct CheckResult {
  grpc::StatusCode code = grpc::StatusCode::OK;
  ServingStatus status = HealthCheckResponse::UNKNOWN;
};
CheckResult Check(Health::Stub& stub, const std::string& service) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(seconds(2)));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  CheckResult result;
  result.code = stub.Check(&context, request, &response).error_code();
  result.status = response.status();
  return result;
}

bool IsServing(Health::Stub& stub, const std::string& service) {
  const CheckResult r = Check(stub, service);
  return r.code == grpc::StatusCode::OK && r.status == HealthCheckResponse::SERVING;
}

// `gorl health <args>`'s exit code (its stderr goes to `log`).
int RunGorlHealth(const std::vector<std::string>& args, const std::string& log) {
  std::unique_ptr<Child> probe = testing::StartGorl(Join({"health"}, args), log);
  if (probe == nullptr || !probe->Wait(seconds(60))) return -1;
  return probe->exit_code();
}

// A Watch stream read on its own thread: every status it delivers.
class Watcher {
 public:
  Watcher(const std::string& address, const std::string& service) : stub_(HealthStub(address)) {
    HealthCheckRequest request;
    request.set_service(service);
    thread_ = std::thread([this, request] {
      std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader =
          stub_->Watch(&context_, request);
      HealthCheckResponse response;
      while (reader->Read(&response)) {
        absl::MutexLock lock(&mu_);
        seen_.push_back(response.status());
      }
      reader->Finish();
      absl::MutexLock lock(&mu_);
      ended_ = true;
    });
  }
  ~Watcher() {
    context_.TryCancel();
    thread_.join();
  }
  std::vector<ServingStatus> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }
  bool ended() {
    absl::MutexLock lock(&mu_);
    return ended_;
  }

 private:
  std::unique_ptr<Health::Stub> stub_;
  grpc::ClientContext context_;
  absl::Mutex mu_;
  std::vector<ServingStatus> seen_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Serves `body` as every HTTP response on a loopback port: a metrics page
// without the heartbeat, or with an old one.
class FixedHttpServer {
 public:
  explicit FixedHttpServer(std::string body) : body_(std::move(body)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && listen(fd_, 8) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
    thread_ = std::thread([this] {
      while (true) {
        const int client = accept(fd_, nullptr, nullptr);
        if (client < 0) return;  // shut down
        char request[4096];
        recv(client, request, sizeof(request), 0);  // a GET fits in one read
        const std::string response =
            absl::StrCat("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n", body_);
        send(client, response.data(), response.size(), MSG_NOSIGNAL);
        close(client);
      }
    });
  }
  ~FixedHttpServer() {
    shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    close(fd_);
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  const std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(HealthServiceTest, CheckWatchAndShutdownOverGrpc) {
  HealthStatuses statuses({kLearnerServiceName});
  HealthService service(statuses);
  std::string address;
  HealthEndpoint endpoint{"127.0.0.1", 0};
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartHealthServer(endpoint, service, &address);
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<Health::Stub> stub = HealthStub(address);

  EXPECT_EQ(Check(*stub, "").status, HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check(*stub, kLearnerServiceName).status, HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check(*stub, "gorl.v1.Nothing").code, grpc::StatusCode::NOT_FOUND);

  Watcher watcher(address, kLearnerServiceName);
  Watcher unknown(address, "gorl.v1.Nothing");
  ASSERT_TRUE(gorl::testing::WaitUntil([&] { return watcher.seen().size() == 1; }));
  ASSERT_TRUE(gorl::testing::WaitUntil([&] { return unknown.seen().size() == 1; }));
  EXPECT_EQ(unknown.seen()[0], HealthCheckResponse::SERVICE_UNKNOWN);

  statuses.SetAll(HealthCheckResponse::SERVING);
  EXPECT_TRUE(IsServing(*stub, ""));
  ASSERT_TRUE(gorl::testing::WaitUntil([&] { return watcher.seen().size() == 2; }));

  // Shutdown: NOT_SERVING for good, and the Watch streams end, so the
  // server's shutdown does not wait for them.
  statuses.Shutdown();
  statuses.SetAll(HealthCheckResponse::SERVING);
  EXPECT_EQ(Check(*stub, "").status, HealthCheckResponse::NOT_SERVING);
  ASSERT_TRUE(gorl::testing::WaitUntil([&] { return watcher.ended() && unknown.ended(); }));
  EXPECT_THAT(watcher.seen(),
              ::testing::ElementsAre(HealthCheckResponse::NOT_SERVING, HealthCheckResponse::SERVING,
                                     HealthCheckResponse::NOT_SERVING));
  const auto start = std::chrono::steady_clock::now();
  (*server)->Shutdown(DeadlineIn(seconds(60)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(30));
}

// `gorl health`: each exit code once as a process (a spawn costs a second
// of CI time), every reason through the function it calls.
TEST(HealthCommandTest, ExitCodesAndReasons) {
  const std::string dir = test_files::MakeTempDir("health-cli");
  const std::string log = dir + "/probe.log";
  HealthStatuses statuses({kRefinerServiceName});
  HealthService service(statuses);
  std::string address;
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartHealthServer(HealthEndpoint{"127.0.0.1", 0}, service, &address);
  ASSERT_TRUE(server.ok()) << server.status();
  const auto now = static_cast<int64_t>(std::time(nullptr));
  FixedHttpServer fresh(
      absl::StrCat("# TYPE gorl_heartbeat_timestamp_seconds gauge\n"
                   "gorl_heartbeat_timestamp_seconds{role=\"actor\",instance=\"a\"} ",
                   now, "\n"));
  FixedHttpServer stale("gorl_heartbeat_timestamp_seconds{role=\"actor\"} 1000\n");
  FixedHttpServer missing("gorl_env_steps_total{role=\"actor\"} 5\n");

  // The process: 1 with one line of reason, 0, 2.
  EXPECT_EQ(RunGorlHealth({"--target", address}, log), 1);
  EXPECT_THAT(ReadFile(log), ::testing::HasSubstr("NOT_SERVING"));
  EXPECT_EQ(RunGorlHealth({"--metrics", stale.address()}, log), 1);
  EXPECT_THAT(ReadFile(log), ::testing::HasSubstr("stale heartbeat"));
  statuses.SetAll(HealthCheckResponse::SERVING);
  EXPECT_EQ(RunGorlHealth({"--target", address, "--service", kRefinerServiceName}, log), 0);
  EXPECT_EQ(RunGorlHealth({"--target"}, log), 2);
  EXPECT_EQ(RunGorlHealth({}, log), 2);  // nothing to check (GORL_HEALTH_* unset here)

  // The reasons (anything but InvalidArgument exits 1).
  auto probe = [](const std::string& target, const std::string& service,
                  const std::string& metrics) {
    HealthCheckOptions options;
    options.target = target;
    options.service = service;
    options.metrics = metrics;
    options.timeout_s = 1;
    return RunHealthCheck(options);
  };
  EXPECT_TRUE(probe(address, "", fresh.address()).ok());
  EXPECT_THAT(probe(address, "gorl.v1.Nothing", ""),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("SERVICE_UNKNOWN")));
  const std::string nobody = absl::StrCat("127.0.0.1:", testutil::PickFreeLoopbackPort());
  EXPECT_THAT(probe(nobody, "", ""),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::HasSubstr("unreachable")));
  EXPECT_THAT(probe("", "", missing.address()),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("missing")));
  EXPECT_THAT(probe("", "", nobody),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::HasSubstr("unreachable")));
  EXPECT_THAT(probe("", "", "no-port"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The learner's statuses across a SIGTERM and a --resume, and the refiner's.
TEST(RoleHealthTest, LearnerServesOnlyFromItsCheckpointAndDrainsOnSigterm) {
  const std::string dir = test_files::MakeTempDir("health-roles");
  const std::string run = dir + "/run";
  const int refiner_health = testutil::PickFreeLoopbackPort();
  std::unique_ptr<Child> refiner = testing::StartGorl(
      {"refiner", "--insecure", "--listen=127.0.0.1:0", "--health_host=127.0.0.1",
       absl::StrCat("--health_port=", refiner_health)},
      dir + "/refiner.log");
  ASSERT_NE(refiner, nullptr);
  const std::string refiner_address = testing::AwaitListening(*refiner);
  // (c) The refiner serves once it listens.
  const std::string refiner_probe = absl::StrCat("127.0.0.1:", refiner_health);
  std::unique_ptr<Health::Stub> refiner_stub = HealthStub(refiner_probe);
  EXPECT_TRUE(IsServing(*refiner_stub, ""));
  EXPECT_TRUE(IsServing(*refiner_stub, kRefinerServiceName));

  // (b) A learner that gets SIGTERM tells a Watch stream NOT_SERVING
  // before it exits (the message comes from the living process).
  const std::string address = absl::StrCat("127.0.0.1:", testutil::PickFreeLoopbackPort());
  const int health_port = testutil::PickFreeLoopbackPort();
  const std::vector<std::string> learner_flags = {"learner",
                                                  "--insecure",
                                                  "--listen=" + address,
                                                  "--refiner=" + refiner_address,
                                                  "--health_host=127.0.0.1",
                                                  absl::StrCat("--health_port=", health_port)};
  std::unique_ptr<Child> first = testing::StartGorl(
      Join(learner_flags, Join({"--progress_json", "--run_dir=" + run,
                                absl::StrCat("total_env_steps=", 300 * kStepsPerIteration)},
                               Join(testing::TinyRun(), {"stages.fractions=0.9,0.1",
                                                         "checkpoint_every_iterations=0"}))),
      dir + "/first.log");
  ASSERT_NE(first, nullptr);
  testing::AwaitListening(*first);
  const std::string probe = absl::StrCat("127.0.0.1:", health_port);
  Watcher watcher(probe, kLearnerServiceName);
  std::unique_ptr<Child> actor = testing::StartGorl(
      Join({"actor", "--insecure", "--learner=" + address, "--actor_envs=8"}, testing::TinyRun()),
      dir + "/actor.log");
  ASSERT_NE(actor, nullptr);
  bool stopped = false;
  ASSERT_TRUE(testing::WaitReadingProgress(*first, seconds(300), [&](int64_t env_steps) {
    if (!stopped && env_steps >= 3 * kStepsPerIteration) {
      first->Signal(SIGTERM);
      stopped = true;
    }
  })) << ReadFile(dir + "/first.log");
  ASSERT_TRUE(stopped);
  ASSERT_TRUE(gorl::testing::WaitUntil([&] { return watcher.ended(); }));
  const std::vector<ServingStatus> seen = watcher.seen();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.back(), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(seen[seen.size() - 2], HealthCheckResponse::SERVING);
  EXPECT_EQ(actor->Terminate(seconds(10)), 0) << ReadFile(dir + "/actor.log");

  // (a) Resumed: NOT_SERVING (or not yet reachable) until the checkpoint
  // is loaded; at the first SERVING its position is already exported and
  // a Join succeeds. With this tiny run the restore takes milliseconds, so
  // a probe rarely lands before it: the order itself is pinned by
  // TrainingLoopCheckpointTest.OnStartComesAfterTheRestoreAndBeforeAnyWork
  // (SERVING is set only in on_start).
  const absl::StatusOr<v1::LearnerCheckpoint> checkpoint =
      learner::ReadCheckpoint(learner::CheckpointPath(run));
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  ASSERT_GE(checkpoint->env_steps(), 3 * kStepsPerIteration);
  const int metrics_port = testutil::PickFreeLoopbackPort();
  std::unique_ptr<Child> resumed = testing::StartGorl(
      Join(learner_flags, {"--resume=" + run, absl::StrCat("--metrics_port=", metrics_port),
                           "--metrics_host=127.0.0.1"}),
      dir + "/resumed.log");
  ASSERT_NE(resumed, nullptr);
  std::unique_ptr<Health::Stub> stub = HealthStub(probe);
  ASSERT_TRUE(gorl::testing::WaitUntil([&] {
    const CheckResult r = Check(*stub, kLearnerServiceName);
    if (r.code == grpc::StatusCode::OK && r.status == HealthCheckResponse::SERVING) return true;
    if (r.code == grpc::StatusCode::OK) {
      EXPECT_EQ(r.status, HealthCheckResponse::NOT_SERVING);
    } else {
      EXPECT_THAT(r.code, ::testing::AnyOf(grpc::StatusCode::UNAVAILABLE,
                                           grpc::StatusCode::DEADLINE_EXCEEDED));
    }
    return false;
  })) << ReadFile(dir + "/resumed.log");
  EXPECT_EQ(testing::ScrapeSample(metrics_port, "gorl_run_env_steps", {}),
            static_cast<double>(checkpoint->env_steps()));
  std::unique_ptr<v1::Learner::Stub> learner =
      v1::Learner::NewStub(MakeChannel(address, ClientCredentials::Plaintext()));
  v1::JoinRequest join;
  join.set_actor_id("probe");
  join.set_task("twin-peaks");
  join.set_obs_size(1);
  join.set_action_size(1);
  join.set_num_envs(8);
  join.set_protocol_version(kProtocolVersion);
  v1::JoinReply reply;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(seconds(10)));
  const grpc::Status joined = learner->Join(&context, join, &reply);
  EXPECT_TRUE(joined.ok()) << joined.error_message();
  resumed->Terminate(seconds(30));
  EXPECT_EQ(refiner->Terminate(seconds(10)), 0);
}

// (e) An actor without a learner keeps beating: waiting for a learner that
// is restarting must not make it look dead.
TEST(RoleHealthTest, ActorHeartbeatRisesWhileItWaitsForTheLearner) {
  const std::string dir = test_files::MakeTempDir("health-actor");
  const int metrics_port = testutil::PickFreeLoopbackPort();
  const std::string nobody = absl::StrCat("127.0.0.1:", testutil::PickFreeLoopbackPort());
  std::unique_ptr<Child> actor = testing::StartGorl(
      Join({"actor", "--insecure", "--learner=" + nobody, "--actor_envs=8",
            absl::StrCat("--metrics_port=", metrics_port), "--metrics_host=127.0.0.1"},
           testing::TinyRun()),
      dir + "/actor.log");
  ASSERT_NE(actor, nullptr);
  // Three beats in a row, each at most a few seconds old when seen (a Join
  // that blocked for its whole 10 s timeout would fail this).
  double last = 0;
  int rises = 0;
  ASSERT_TRUE(gorl::testing::WaitUntil([&] {
    const std::optional<double> beat =
        testing::ScrapeSample(metrics_port, "gorl_heartbeat_timestamp_seconds", {});
    if (!beat.has_value() || *beat <= 0) return false;
    EXPECT_LE(static_cast<double>(std::time(nullptr)) - *beat, 8.0);
    if (last > 0 && *beat > last) ++rises;
    last = *beat;
    return rises >= 3;
  })) << ReadFile(dir + "/actor.log");
  EXPECT_EQ(
      RunGorlHealth({"--metrics", absl::StrCat("127.0.0.1:", metrics_port), "--max_age_s", "30"},
                    dir + "/probe.log"),
      0)
      << ReadFile(dir + "/probe.log");
  EXPECT_EQ(actor->Terminate(seconds(10)), 0) << ReadFile(dir + "/actor.log");
}

}  // namespace
}  // namespace gorl::runtime
