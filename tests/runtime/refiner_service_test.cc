// The refiner's gorl.v1.Refiner service on a real gRPC server, and the
// learner's GrpcRefinerClient against it: requests the refiner must refuse
// before it allocates (bad widths, epochs, too many bytes), a client that
// cancels or runs out of time, and a refiner that still serves afterwards.
#include "runtime/grpc_refiner_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "runtime/grpc_util.h"
#include "tests/status_matchers.h"

namespace gorl::runtime {
namespace {

using ::gorl::testing::StatusIs;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr int kObs = 3;
constexpr int kAction = 2;

// Settings that train in well under a second.
v1::RefineHeader GoodHeader() {
  v1::RefineHeader header;
  header.set_version(1);
  header.set_kind(v1::DECODER_KIND_FLOW);
  header.set_seed(7);
  header.set_device(v1::DEVICE_CPU);
  header.mutable_decoder()->add_hidden(8);
  header.mutable_decoder()->add_hidden(8);
  header.mutable_decoder()->set_steps(2);
  v1::RefineConfig& refine = *header.mutable_refine();
  refine.set_batch_size(16);
  refine.set_learning_rate(1e-3);
  refine.set_epochs(2);
  refine.set_samples_per_pair(1);
  refine.set_validation_fraction(0.25);
  refine.set_patience(0);
  refine.set_inputs(v1::REFINE_INPUTS_PRIOR);
  return header;
}

// Settings that would train for hours: the most epochs allowed, one pair
// per minibatch.
v1::RefineHeader EndlessHeader() {
  v1::RefineHeader header = GoodHeader();
  header.mutable_refine()->set_epochs(kMaxRefineEpochs);
  header.mutable_refine()->set_batch_size(1);
  return header;
}

v1::RefinementData Pairs(int pairs) {
  v1::RefinementData data;
  data.set_obs_size(kObs);
  data.set_action_size(kAction);
  for (int i = 0; i < pairs * kObs; ++i) data.add_observations(0.1f * static_cast<float>(i % 7));
  for (int i = 0; i < pairs * kAction; ++i) data.add_actions(0.05f * static_cast<float>(i % 9));
  return data;
}

class RefinerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metrics_ = RoleMetrics::Unserved("refiner", "");
    RefinerServiceOptions options;
    options.max_refine_bytes = kMaxBytes;
    service_ = std::make_unique<RefinerService>(*metrics_, options);
    auto server =
        StartServer("127.0.0.1:0", {service_.get()}, {TransportSecurity::Insecure()}, &address_);
    GORL_ASSERT_OK(server);
    server_ = std::move(server).value();
    stub_ = v1::Refiner::NewStub(MakeChannel(address_, ClientCredentials::Plaintext()));
  }
  void TearDown() override { server_->Shutdown(DeadlineIn(std::chrono::seconds(5))); }

  // One Refine call with a raw stub: the header, then `data` in `chunks`
  // equal chunks; `deadline` bounds the whole call.
  grpc::Status Call(const v1::RefineHeader& header, const v1::RefinementData& data, int chunks = 1,
                    std::chrono::seconds deadline = std::chrono::seconds(120),
                    v1::RefineReply* reply_out = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(deadline));
    v1::RefineReply reply;
    auto writer = stub_->Refine(&context, &reply);
    v1::RefineChunk chunk;
    *chunk.mutable_header() = header;
    bool open = writer->Write(chunk);
    const int pairs = data.actions_size() / kAction;
    for (int c = 0; c < chunks && open; ++c) {
      const int begin = pairs * c / chunks, end = pairs * (c + 1) / chunks;
      v1::RefinementData& part = *chunk.mutable_data();
      part.Clear();
      part.set_obs_size(kObs);
      part.set_action_size(kAction);
      part.mutable_observations()->Add(data.observations().begin() + begin * kObs,
                                       data.observations().begin() + end * kObs);
      part.mutable_actions()->Add(data.actions().begin() + begin * kAction,
                                  data.actions().begin() + end * kAction);
      open = writer->Write(chunk);
    }
    if (open) writer->WritesDone();
    const grpc::Status status = writer->Finish();
    if (reply_out != nullptr) *reply_out = reply;
    return status;
  }

  // A good request still trains a decoder (the refiner neither crashed nor
  // is stuck in an earlier request).
  void ExpectServesAGoodRequest() {
    v1::RefineReply reply;
    const grpc::Status status = Call(GoodHeader(), Pairs(64), 1, std::chrono::seconds(120), &reply);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    EXPECT_EQ(reply.epochs(), 2);
    EXPECT_GT(reply.decoder().weights().tensors_size(), 0);
    // The decoder's learning curve travels with it.
    ASSERT_EQ(reply.validation_losses_size(), 2);
    ASSERT_EQ(reply.train_losses_size(), 2);
    EXPECT_EQ(reply.best_validation_loss(),
              std::min(reply.validation_losses(0), reply.validation_losses(1)));
  }

  static constexpr int64_t kMaxBytes = 64 << 10;
  std::unique_ptr<RoleMetrics> metrics_;
  std::unique_ptr<RefinerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::unique_ptr<v1::Refiner::Stub> stub_;
};

TEST_F(RefinerServiceTest, RefusesBadSettingsBeforeReadingDataAndServesAfterwards) {
  struct Case {
    const char* name;
    void (*spoil)(v1::RefineHeader&);
    const char* field;
  };
  const Case cases[] = {
      {"zero width", [](v1::RefineHeader& h) { h.mutable_decoder()->set_hidden(0, 0); },
       "decoder.hidden"},
      {"negative width", [](v1::RefineHeader& h) { h.mutable_decoder()->set_hidden(1, -5); },
       "decoder.hidden"},
      {"huge width", [](v1::RefineHeader& h) { h.mutable_decoder()->set_hidden(0, 1 << 20); },
       "decoder.hidden"},
      {"no layers", [](v1::RefineHeader& h) { h.mutable_decoder()->clear_hidden(); },
       "decoder.hidden"},
      {"negative epochs", [](v1::RefineHeader& h) { h.mutable_refine()->set_epochs(-1); },
       "refine.epochs"},
      {"endless epochs",
       [](v1::RefineHeader& h) {
         h.mutable_refine()->set_epochs(std::numeric_limits<int32_t>::max());
       },
       "refine.epochs"},
      {"zero batch", [](v1::RefineHeader& h) { h.mutable_refine()->set_batch_size(0); },
       "refine.batch_size"},
      {"huge batch", [](v1::RefineHeader& h) { h.mutable_refine()->set_batch_size(1 << 30); },
       "refine.batch_size"},
      {"huge steps", [](v1::RefineHeader& h) { h.mutable_decoder()->set_steps(1 << 30); },
       "decoder.steps"},
      {"identity kind", [](v1::RefineHeader& h) { h.set_kind(v1::DECODER_KIND_IDENTITY); }, "kind"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::RefineHeader header = GoodHeader();
    c.spoil(header);
    const grpc::Status status = Call(header, Pairs(64));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr(c.field));
  }
  ExpectServesAGoodRequest();
}

TEST_F(RefinerServiceTest, RefusesMoreBytesThanItsLimit) {
  // 64 KiB allowed; 4,000 pairs of 5 floats are 80 KB, in 8 chunks of 10 KB:
  // refused on the chunk that crosses the limit.
  const grpc::Status status = Call(GoodHeader(), Pairs(4000), 8);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("--max_refine_bytes"));
  ExpectServesAGoodRequest();
}

TEST_F(RefinerServiceTest, ClientThatLeavesStopsItsTrainingPromptly) {
  // The endless request's deadline passes while it trains: the refiner must
  // stop it, or the next request waits behind hours of epochs.
  const grpc::Status status = Call(EndlessHeader(), Pairs(200), 1, std::chrono::seconds(3));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  const auto start = Clock::now();
  ExpectServesAGoodRequest();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(60));
}

TEST_F(RefinerServiceTest, ClientThatStreamsSlowlyBlocksNobody) {
  // A stream that sent its header and some data and then stalls.
  grpc::ClientContext stalled_context;
  v1::RefineReply stalled_reply;
  auto stalled = stub_->Refine(&stalled_context, &stalled_reply);
  v1::RefineChunk chunk;
  *chunk.mutable_header() = GoodHeader();
  ASSERT_TRUE(stalled->Write(chunk));
  *chunk.mutable_data() = Pairs(32);
  ASSERT_TRUE(stalled->Write(chunk));
  // Another learner's request is trained meanwhile.
  ExpectServesAGoodRequest();
  stalled_context.TryCancel();
  EXPECT_EQ(stalled->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

RefinerClientOptions ClientOptions(const std::string& address) {
  RefinerClientOptions options;
  options.address = address;
  const v1::RefineHeader header = GoodHeader();
  options.config.set_algo(v1::ALGO_GORL_FM);
  options.config.set_device(v1::DEVICE_CPU);
  *options.config.mutable_decoder() = header.decoder();
  *options.config.mutable_refine() = header.refine();
  options.connect_timeout = std::chrono::seconds(10);
  options.initial_backoff = std::chrono::milliseconds(10);
  options.max_backoff = std::chrono::milliseconds(20);
  return options;
}

TEST_F(RefinerServiceTest, ClientGivesUpAfterItsDeadlineOnEveryAttempt) {
  RefinerClientOptions options = ClientOptions(address_);
  options.config.mutable_refine()->set_epochs(kMaxRefineEpochs);
  options.config.mutable_refine()->set_batch_size(1);
  options.refine_timeout = std::chrono::seconds(2);
  options.max_attempts = 2;
  auto metrics = RoleMetrics::Unserved("learner", "");
  GrpcRefinerClient client(options, *metrics);
  GORL_EXPECT_OK(client.CheckSettings());
  const auto start = Clock::now();
  EXPECT_THAT(client.Refine(Pairs(200), 1),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("decoder v1")));
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(60));
  ExpectServesAGoodRequest();
}

TEST_F(RefinerServiceTest, ClientDoesNotRetryARefusedRequest) {
  RefinerClientOptions options = ClientOptions(address_);
  // A retry would wait a minute first.
  options.initial_backoff = std::chrono::seconds(60);
  options.max_backoff = std::chrono::seconds(60);
  auto metrics = RoleMetrics::Unserved("learner", "");
  GrpcRefinerClient client(options, *metrics);
  const auto start = Clock::now();
  EXPECT_THAT(client.Refine(Pairs(4000), 1),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("--max_refine_bytes")));
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(45));

  // Settings the refiner refuses fail the run at its start.
  RefinerClientOptions bad = ClientOptions(address_);
  bad.config.mutable_refine()->set_epochs(kMaxRefineEpochs + 1);
  GrpcRefinerClient refused(bad, *metrics);
  EXPECT_THAT(refused.CheckSettings(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refine.epochs")));
  EXPECT_THAT(refused.Refine(Pairs(64), 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refine.epochs")));
}

}  // namespace
}  // namespace gorl::runtime
