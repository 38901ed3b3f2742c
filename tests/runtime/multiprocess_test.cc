// The distributed runtime as it runs: real `gorl` processes (learner,
// refiner, actors, the `gorl train` launcher) talking gRPC on loopback, with
// tiny twin-peaks configurations so that each test takes seconds. Every
// process is killed when its test ends (runtime::Child), and children die
// with the test binary (PR_SET_PDEATHSIG).
//
// CI runs these on a busy 2-core machine (scripts/stress_tests.sh adds two
// busy loops), so nothing here depends on timing or log wording: learners
// wait for their actors (--min_actors), and the tests read what the roles
// record (metrics.jsonl rows, exit codes, RPC answers, Prometheus series).
#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/json_line.h"
#include "gorl/v1/services.grpc.pb.h"
#include "runtime/grpc_util.h"
#include "runtime/protocol.h"
#include "runtime/subprocess.h"
#include "tests/common/http_get.h"
#include "tests/runtime/role_processes.h"
#include "tests/test_files.h"

namespace gorl::runtime {
namespace {

using std::chrono::seconds;
using testing::ActorsPerUpdate;
using testing::AwaitListening;
using ::testing::Contains;
using ::testing::Each;
using ::testing::ElementsAre;
using testing::EventRows;
using testing::Exists;
using ::testing::HasSubstr;
using testing::Join;
using testing::RolloutActorsPerUpdate;

using test_files::ReadFile;
using testing::WaitReadingProgress;

const std::vector<std::string>& kTiny = testing::TinyRun();

std::unique_ptr<Child> Start(const std::vector<std::string>& args, const std::string& log) {
  return testing::StartGorl(args, log);
}

// (a) `gorl train` starts 1 learner, 1 refiner and 2 actors and runs a whole
// GoRL stage cycle: train -> collect -> refine -> new decoder -> train.
TEST(MultiProcessTest, LauncherRunsAFullStageCycleWithTwoActors) {
  const std::string dir = test_files::MakeTempDir("cycle");
  std::unique_ptr<Child> train = Start(
      Join({"train", "--actors=2", "--run_dir=" + dir + "/run", "total_env_steps=3200"}, kTiny),
      dir + "/launcher.log");
  ASSERT_NE(train, nullptr);
  std::string stdout_text;
  const auto deadline = std::chrono::steady_clock::now() + seconds(300);
  while (!train->stdout_closed() && std::chrono::steady_clock::now() < deadline) {
    if (std::optional<std::string> line = train->ReadLine(std::chrono::milliseconds(200))) {
      stdout_text += *line + "\n";
    }
  }
  ASSERT_TRUE(train->Wait(seconds(60))) << ReadFile(dir + "/launcher.log");
  ASSERT_EQ(train->exit_code(), 0) << ReadFile(dir + "/launcher.log");

  const std::string run = dir + "/run";
  EXPECT_THAT(stdout_text, HasSubstr("\"return_mean\""));
  EXPECT_TRUE(Exists(run + "/config.textproto"));
  EXPECT_TRUE(Exists(run + "/decoder_stage1.pb"));
  EXPECT_TRUE(Exists(run + "/final_eval.json"));
  const std::string metrics = ReadFile(run + "/metrics.jsonl");
  const size_t refine = metrics.find("\"event\": \"refine\"");
  ASSERT_NE(refine, std::string::npos) << metrics;
  // Training went on in stage 1 with the new decoder after the refinement.
  EXPECT_NE(metrics.find("\"event\": \"update\"", refine), std::string::npos);
  EXPECT_NE(metrics.find("\"stage\": 1", refine), std::string::npos);
  // The launcher makes the learner wait for both actors: every update was
  // trained with two connected.
  const std::vector<int> actors = ActorsPerUpdate(run);
  ASSERT_FALSE(actors.empty()) << metrics;
  EXPECT_THAT(actors, Each(2)) << metrics;
  // The refiner process trained decoder v1, which stage 1 used.
  const std::vector<std::string> refines = EventRows(run, "refine");
  ASSERT_EQ(refines.size(), 1u) << metrics;
  EXPECT_EQ(JsonNumber(refines[0], "decoder_version"), 1.0) << metrics;
}

// (b) One of two actors is SIGKILLed mid-run; the learner notices, gives its
// work to the other, and the run finishes.
TEST(MultiProcessTest, TrainingSurvivesAnActorKilledMidRun) {
  const std::string dir = test_files::MakeTempDir("kill");
  std::unique_ptr<Child> refiner =
      Start({"refiner", "--insecure", "--listen=127.0.0.1:0"}, dir + "/refiner.log");
  ASSERT_NE(refiner, nullptr);
  const std::string refiner_address = AwaitListening(*refiner);
  // Evaluations every 10 iterations keep shares in flight. The learner
  // starts only once both actors have joined; the kill comes at the first
  // progress line, 59 iterations before the run ends.
  std::unique_ptr<Child> learner =
      Start(Join({"learner", "--insecure", "--listen=127.0.0.1:0", "--refiner=" + refiner_address,
                  "--run_dir=" + dir + "/run", "--progress_json", "--min_actors=2",
                  "total_env_steps=9600", "eval.every_env_steps=1600"},
                 kTiny),
            dir + "/learner.log");
  ASSERT_NE(learner, nullptr);
  const std::string learner_address = AwaitListening(*learner);
  std::vector<std::unique_ptr<Child>> actors;
  actors.reserve(2);
  for (int i = 0; i < 2; ++i) {
    actors.push_back(Start(Join({"actor", "--insecure", "--learner=" + learner_address,
                                 absl::StrCat("--actor_id=actor-", i), "--actor_envs=4"},
                                kTiny),
                           absl::StrCat(dir, "/actor-", i, ".log")));
  }
  bool killed = false;
  const bool finished = WaitReadingProgress(*learner, seconds(300), [&](int64_t env_steps) {
    if (!killed && env_steps > 0) {
      actors[1]->Signal(SIGKILL);
      killed = true;
    }
  });
  ASSERT_TRUE(killed) << ReadFile(dir + "/learner.log");
  ASSERT_TRUE(finished) << ReadFile(dir + "/learner.log");
  EXPECT_EQ(learner->exit_code(), 0) << ReadFile(dir + "/learner.log");
  EXPECT_TRUE(Exists(dir + "/run/final_eval.json"));
  // Both trained at first; the learner noticed the loss and went on with one.
  const std::vector<int> connected = ActorsPerUpdate(dir + "/run");
  ASSERT_FALSE(connected.empty());
  EXPECT_EQ(connected.front(), 2) << ReadFile(dir + "/learner.log");
  EXPECT_EQ(connected.back(), 1) << ReadFile(dir + "/learner.log");
  ASSERT_TRUE(actors[1]->Wait(seconds(5)));
  EXPECT_EQ(actors[1]->exit_code(), 128 + SIGKILL);
  // The survivor exits by itself once the learner says the run is over.
  ASSERT_TRUE(actors[0]->Wait(seconds(60))) << ReadFile(dir + "/actor-0.log");
  EXPECT_EQ(actors[0]->exit_code(), 0);
  // SIGTERM shuts the refiner down cleanly.
  EXPECT_EQ(refiner->Terminate(seconds(10)), 0);
}

// An actor outlives a learner that crashes, and joins the learner that
// replaces it on the same address.
TEST(MultiProcessTest, ActorRejoinsARestartedLearner) {
  const std::string dir = test_files::MakeTempDir("rejoin");
  const std::string address = absl::StrCat("127.0.0.1:", testutil::PickFreeLoopbackPort());
  std::unique_ptr<Child> refiner =
      Start({"refiner", "--insecure", "--listen=127.0.0.1:0"}, dir + "/refiner.log");
  ASSERT_NE(refiner, nullptr);
  const std::string refiner_address = AwaitListening(*refiner);
  auto start_learner = [&](const std::string& name, int64_t steps) {
    return Start(Join({"learner", "--insecure", "--listen=" + address,
                       "--refiner=" + refiner_address, "--run_dir=" + dir + "/" + name,
                       "--progress_json", absl::StrCat("total_env_steps=", steps)},
                      kTiny),
                 dir + "/" + name + ".log");
  };
  std::unique_ptr<Child> first = start_learner("first", 1600000);
  AwaitListening(*first);
  std::unique_ptr<Child> actor = Start(
      Join({"actor", "--insecure", "--learner=" + address, "--actor_id=survivor", "--actor_envs=8"},
           kTiny),
      dir + "/actor.log");
  bool crashed = false;
  WaitReadingProgress(*first, seconds(300), [&](int64_t env_steps) {
    if (!crashed && env_steps >= 800) {
      first->Signal(SIGKILL);
      crashed = true;
    }
  });
  ASSERT_TRUE(crashed) << ReadFile(dir + "/first.log");
  std::unique_ptr<Child> second = start_learner("second", 3200);
  AwaitListening(*second);
  ASSERT_TRUE(WaitReadingProgress(*second, seconds(300))) << ReadFile(dir + "/second.log");
  EXPECT_EQ(second->exit_code(), 0) << ReadFile(dir + "/second.log");
  // The second run could only train with the survivor (the one actor there
  // is), and the survivor exits when that run is over.
  EXPECT_THAT(RolloutActorsPerUpdate(dir + "/second"), Each(1));
  EXPECT_FALSE(ActorsPerUpdate(dir + "/second").empty());
  ASSERT_TRUE(actor->Wait(seconds(60))) << ReadFile(dir + "/actor.log");
  EXPECT_EQ(actor->exit_code(), 0);
  EXPECT_EQ(refiner->Terminate(seconds(10)), 0);
}

// `gorl actor --max_env_steps_per_second` holds the actor to its cap: the
// learner cannot have received its env steps sooner than the cap allows. (A
// lower bound on time only: a slow machine cannot make it fail.)
TEST(MultiProcessTest, ActorKeepsToItsEnvStepCap) {
  const std::string dir = test_files::MakeTempDir("cap");
  std::unique_ptr<Child> refiner =
      Start({"refiner", "--insecure", "--listen=127.0.0.1:0"}, dir + "/refiner.log");
  ASSERT_NE(refiner, nullptr);
  const std::string refiner_address = AwaitListening(*refiner);
  constexpr int kTotalSteps = 1600;
  constexpr double kCap = 200;          // env steps per second
  constexpr int kUnrollSteps = 8 * 10;  // actor envs x rollout.unroll_length
  std::unique_ptr<Child> learner =
      Start(Join({"learner", "--insecure", "--listen=127.0.0.1:0", "--refiner=" + refiner_address,
                  "--run_dir=" + dir + "/run", "--progress_json",
                  absl::StrCat("total_env_steps=", kTotalSteps)},
                 kTiny),
            dir + "/learner.log");
  ASSERT_NE(learner, nullptr);
  const std::string learner_address = AwaitListening(*learner);
  const auto actor_started = std::chrono::steady_clock::now();
  std::unique_ptr<Child> actor =
      Start(Join({"actor", "--insecure", "--learner=" + learner_address, "--actor_envs=8",
                  absl::StrCat("--max_env_steps_per_second=", kCap)},
                 kTiny),
            dir + "/actor.log");
  ASSERT_NE(actor, nullptr);
  ASSERT_TRUE(WaitReadingProgress(*learner, seconds(300))) << ReadFile(dir + "/learner.log");
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - actor_started).count();
  ASSERT_EQ(learner->exit_code(), 0) << ReadFile(dir + "/learner.log");
  // The first unroll may start at once; every later one waits its turn.
  EXPECT_GE(elapsed, (kTotalSteps - kUnrollSteps) / kCap) << ReadFile(dir + "/actor.log");
  ASSERT_TRUE(actor->Wait(seconds(60))) << ReadFile(dir + "/actor.log");
  EXPECT_EQ(actor->exit_code(), 0) << ReadFile(dir + "/actor.log");
  EXPECT_EQ(refiner->Terminate(seconds(10)), 0);
}

// A cap that is not a number is refused before the actor dials anyone.
TEST(MultiProcessTest, ActorRefusesAnEnvStepCapThatIsNotANumber) {
  const std::string dir = test_files::MakeTempDir("badcap");
  for (const char* cap : {"nan", "-1", "inf"}) {
    std::unique_ptr<Child> actor = Start(Join({"actor", "--insecure", "--learner=127.0.0.1:1",
                                               absl::StrCat("--max_env_steps_per_second=", cap)},
                                              kTiny),
                                         dir + "/actor.log");
    ASSERT_NE(actor, nullptr);
    ASSERT_TRUE(actor->Wait(seconds(60))) << cap;
    EXPECT_NE(actor->exit_code(), 0) << cap;
    EXPECT_THAT(ReadFile(dir + "/actor.log"), HasSubstr("max_env_steps_per_second")) << cap;
  }
}

// (c) The learner refuses a Join whose sizes or task differ from its own,
// naming both sides' values.
TEST(MultiProcessTest, JoinWithWrongSizesIsRefused) {
  const std::string dir = test_files::MakeTempDir("join");
  const int metrics_port = testutil::PickFreeLoopbackPort();
  std::unique_ptr<Child> learner =
      Start(Join({"learner", "--insecure", "--listen=127.0.0.1:0", "--refiner=127.0.0.1:1",
                  "--run_dir=" + dir + "/run", "--progress_json", "total_env_steps=3200",
                  absl::StrCat("--metrics_port=", metrics_port), "--metrics_host=127.0.0.1"},
                 kTiny),
            dir + "/learner.log");
  ASSERT_NE(learner, nullptr);
  const std::string address = AwaitListening(*learner);
  std::unique_ptr<v1::Learner::Stub> stub =
      v1::Learner::NewStub(MakeChannel(address, ClientCredentials::Plaintext()));
  v1::JoinRequest request;
  request.set_actor_id("wrong");
  request.set_task("twin-peaks");
  request.set_obs_size(5);
  request.set_action_size(1);
  request.set_num_envs(4);
  request.set_protocol_version(kProtocolVersion);
  auto join = [&] {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(seconds(10)));
    v1::JoinReply reply;
    return stub->Join(&context, request, &reply);
  };
  grpc::Status status = join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("actor has obs_size 5"));
  EXPECT_THAT(status.error_message(), HasSubstr("learner has obs_size 1"));

  request.set_obs_size(1);
  request.set_task("cheetah-run");
  status = join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("'cheetah-run'"));
  EXPECT_THAT(status.error_message(), HasSubstr("'twin-peaks'"));

  request.set_task("twin-peaks");
  EXPECT_TRUE(join().ok());
  // Both refusals were counted where an operator looks.
  EXPECT_EQ(testing::ScrapeSample(metrics_port, "gorl_rpc_errors_total", {"method=\"Join\""}), 2.0);
  // SIGTERM stops a learner that waits for rollouts, without SIGKILL.
  const int code = learner->Terminate(seconds(10));
  EXPECT_NE(code, 128 + SIGKILL) << ReadFile(dir + "/learner.log");
}

}  // namespace
}  // namespace gorl::runtime
