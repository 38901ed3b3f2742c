// The roles as real processes over TCP with everything on: TLS, mutual TLS
// and the run token, all made by `gorl certs`. An actor with the wrong
// token is refused (and counted by the learner); the right one trains the
// run to its end, refinement included.
#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/subprocess.h"
#include "tests/common/http_get.h"
#include "tests/runtime/role_processes.h"
#include "tests/test_files.h"
#include "tests/wait_until.h"

namespace gorl::runtime {
namespace {

using std::chrono::seconds;
using test_files::ReadFile;
using testing::AwaitListening;
using testing::Join;
using testing::StartGorl;

std::vector<std::string> TlsFlags(const std::string& tls, const std::string& name,
                                  const std::string& token_file) {
  return {"--tls_ca=" + tls + "/ca.pem", "--tls_cert=" + tls + "/" + name + ".pem",
          "--tls_key=" + tls + "/" + name + ".key", "--token_file=" + token_file};
}

TEST(SecureRolesTest, RunTrainsOverMutualTlsWithTokenAndRefusesAWrongToken) {
  const std::string dir = test_files::MakeTempDir("secure");
  const std::string tls = dir + "/tls";
  for (const std::string& out : {tls, dir + "/other"}) {
    std::unique_ptr<Child> certs =
        StartGorl({"certs", "--out=" + out, "--clients=actor-0"}, dir + "/certs.log");
    ASSERT_NE(certs, nullptr);
    ASSERT_TRUE(certs->Wait(seconds(60)));
    ASSERT_EQ(certs->exit_code(), 0) << ReadFile(dir + "/certs.log");
  }
  const std::vector<std::string> server = Join(TlsFlags(tls, "server", tls + "/token"), {"--mtls"});

  std::unique_ptr<Child> refiner =
      StartGorl(Join({"refiner", "--listen=127.0.0.1:0"}, server), dir + "/refiner.log");
  ASSERT_NE(refiner, nullptr);
  const std::string refiner_address = AwaitListening(*refiner);
  ASSERT_FALSE(refiner_address.empty()) << ReadFile(dir + "/refiner.log");
  const int metrics_port = testutil::PickFreeLoopbackPort();
  std::unique_ptr<Child> learner =
      StartGorl(Join(Join({"learner", "--listen=127.0.0.1:0", "--refiner=" + refiner_address,
                           "--run_dir=" + dir + "/run", "--progress_json",
                           absl::StrCat("--metrics_port=", metrics_port),
                           "--metrics_host=127.0.0.1", "total_env_steps=3200"},
                          server),
                     testing::TinyRun()),
                dir + "/learner.log");
  ASSERT_NE(learner, nullptr);
  const std::string learner_address = AwaitListening(*learner);
  ASSERT_FALSE(learner_address.empty()) << ReadFile(dir + "/learner.log");

  // A valid certificate with another run's token: refused, and it gives up
  // (retrying cannot help) instead of retrying forever.
  std::unique_ptr<Child> intruder =
      StartGorl(Join(Join({"actor", "--learner=" + learner_address, "--actor_envs=8"},
                          TlsFlags(tls, "actor-0", dir + "/other/token")),
                     testing::TinyRun()),
                dir + "/intruder.log");
  ASSERT_NE(intruder, nullptr);
  ASSERT_TRUE(intruder->Wait(seconds(120))) << ReadFile(dir + "/intruder.log");
  EXPECT_NE(intruder->exit_code(), 0);
  EXPECT_TRUE(gorl::testing::WaitUntil([&] {
    return testing::ScrapeSample(metrics_port, "gorl_auth_failures_total",
                                 {"reason=\"wrong_token\""})
               .value_or(0) >= 1;
  })) << ReadFile(dir + "/learner.log");

  std::unique_ptr<Child> actor =
      StartGorl(Join(Join({"actor", "--learner=" + learner_address, "--actor_envs=8"},
                          TlsFlags(tls, "actor-0", tls + "/token")),
                     testing::TinyRun()),
                dir + "/actor.log");
  ASSERT_NE(actor, nullptr);
  ASSERT_TRUE(testing::WaitReadingProgress(*learner, seconds(300)))
      << ReadFile(dir + "/learner.log");
  EXPECT_EQ(learner->exit_code(), 0) << ReadFile(dir + "/learner.log");
  EXPECT_TRUE(testing::Exists(dir + "/run/final_eval.json"));
  // The learner reached the refiner over mTLS: the stage cycle completed.
  EXPECT_FALSE(testing::EventRows(dir + "/run", "refine").empty())
      << ReadFile(dir + "/learner.log");
  ASSERT_TRUE(actor->Wait(seconds(60))) << ReadFile(dir + "/actor.log");
  EXPECT_EQ(actor->exit_code(), 0) << ReadFile(dir + "/actor.log");
  EXPECT_EQ(refiner->Terminate(seconds(10)), 0);
}

// `gorl train` whose socket directory cannot fit a Unix socket path falls
// back to loopback TCP. The roles refuse plaintext TCP without --insecure,
// which the launcher never passes: the run finishing proves every listener
// used the credentials it made for the run.
TEST(SecureRolesTest, LauncherTcpFallbackRunsWithCredentialsMadeForTheRun) {
  const std::string dir = test_files::MakeTempDir("fallback");
  // TMPDIR too long for <TMPDIR>/gorl-XXXXXX/refiner.sock (108 bytes at most).
  const std::string tmp = dir + "/" + std::string(110, 't');
  ASSERT_EQ(mkdir(tmp.c_str(), 0700), 0);
  ChildOptions options;
  options.argv = Join(
      {GORL_BINARY, "train", "--actors=1", "--run_dir=" + dir + "/run", "total_env_steps=1600"},
      testing::TinyRun());
  options.env = {"OMP_NUM_THREADS=1", "TMPDIR=" + tmp};
  options.stderr_path = dir + "/launcher.log";
  absl::StatusOr<std::unique_ptr<Child>> train = Child::Spawn(options);
  ASSERT_TRUE(train.ok()) << train.status();
  ASSERT_TRUE((*train)->Wait(seconds(300))) << ReadFile(dir + "/launcher.log");
  ASSERT_EQ((*train)->exit_code(), 0) << ReadFile(dir + "/launcher.log");
  EXPECT_TRUE(testing::Exists(dir + "/run/final_eval.json"));
  for (const char* file :
       {"ca.pem", "server.pem", "server.key", "actor-0.pem", "actor-0.key", "token"}) {
    struct stat info;
    ASSERT_EQ(stat((dir + "/run/tls/" + file).c_str(), &info), 0) << file;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << file;
  }
}

}  // namespace
}  // namespace gorl::runtime
