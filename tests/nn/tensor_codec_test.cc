#include "common/nn/tensor_codec.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/nn/mlp.h"
#include "tests/status_matchers.h"

namespace gorl::nn {
namespace {

using ::gorl::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

Mlp MakeMlp(uint64_t seed) {
  MlpOptions options;
  options.input_size = 4;
  options.hidden = {6};
  options.output_size = 3;
  return Mlp(options, MakeGenerator(seed));
}

std::vector<torch::Tensor> Snapshot(const torch::nn::Module& module) {
  std::vector<torch::Tensor> copies;
  for (const auto& p : module.parameters()) copies.push_back(p.detach().clone());
  return copies;
}

bool Unchanged(const torch::nn::Module& module, const std::vector<torch::Tensor>& before) {
  const auto now = module.parameters();
  if (now.size() != before.size()) return false;
  for (size_t i = 0; i < now.size(); ++i) {
    if (!torch::equal(now[i], before[i])) return false;
  }
  return true;
}

v1::Tensor* Find(v1::TensorBundle& bundle, const std::string& name) {
  for (auto& tensor : *bundle.mutable_tensors()) {
    if (tensor.name() == name) return &tensor;
  }
  return nullptr;
}

TEST(TensorCodecTest, EncodeListsParametersInOrderWithShapes) {
  Mlp mlp = MakeMlp(1);
  const v1::TensorBundle bundle = EncodeModule(*mlp);
  const auto params = mlp->named_parameters();
  ASSERT_EQ(bundle.tensors_size(), static_cast<int>(params.size()));
  for (int i = 0; i < bundle.tensors_size(); ++i) {
    const v1::Tensor& tensor = bundle.tensors(i);
    EXPECT_EQ(tensor.name(), params[i].key());
    ASSERT_EQ(tensor.shape_size(), params[i].value().dim());
    for (int d = 0; d < tensor.shape_size(); ++d) {
      EXPECT_EQ(tensor.shape(d), params[i].value().size(d));
    }
    EXPECT_EQ(tensor.values_size(), params[i].value().numel());
  }
  // Row-major: element (1, 2) of layer0.weight is values[1 * 4 + 2].
  EXPECT_EQ(bundle.tensors(0).values(6), params[0].value()[1][2].item<float>());
}

TEST(TensorCodecTest, RoundTripIsExact) {
  Mlp source = MakeMlp(1);
  Mlp target = MakeMlp(2);
  ASSERT_FALSE(torch::equal(source->parameters()[0], target->parameters()[0]));
  GORL_ASSERT_OK(DecodeModule(EncodeModule(*source), *target));
  const auto expected = source->parameters(), actual = target->parameters();
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(torch::equal(expected[i], actual[i])) << i;
  }
  // Still trainable leaves after the copy.
  for (const auto& p : actual) EXPECT_TRUE(p.requires_grad() && p.is_leaf());
  const torch::Tensor x = torch::randn({5, 4}, MakeGenerator(3));
  EXPECT_TRUE(torch::equal(source->forward(x), target->forward(x)));
}

TEST(TensorCodecTest, BuffersTravelToo) {
  struct WithBuffer : torch::nn::Module {
    WithBuffer() {
      weight = register_parameter("weight", torch::zeros({2}));
      stats = register_buffer("stats", torch::zeros({3}));
    }
    torch::Tensor weight, stats;
  };
  WithBuffer source, target;
  source.stats.fill_(4.0);
  const v1::TensorBundle bundle = EncodeModule(source);
  ASSERT_EQ(bundle.tensors_size(), 2);
  EXPECT_EQ(bundle.tensors(1).name(), "stats");
  GORL_ASSERT_OK(DecodeModule(bundle, target));
  EXPECT_TRUE(torch::equal(target.stats, torch::full({3}, 4.0f)));
}

TEST(TensorCodecTest, RefusesWrongShape) {
  v1::TensorBundle bundle = EncodeModule(*MakeMlp(1));
  Find(bundle, "layer0.weight")->set_shape(0, 4);  // [6, 4] -> [4, 4]
  Mlp target = MakeMlp(2);
  const auto before = Snapshot(*target);
  EXPECT_THAT(DecodeModule(bundle, *target),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("layer0.weight"), HasSubstr("shape"))));
  EXPECT_TRUE(Unchanged(*target, before));
}

TEST(TensorCodecTest, RefusesWrongValueCount) {
  v1::TensorBundle bundle = EncodeModule(*MakeMlp(1));
  Find(bundle, "layer1.bias")->add_values(1.0f);
  Mlp target = MakeMlp(2);
  const auto before = Snapshot(*target);
  EXPECT_THAT(DecodeModule(bundle, *target),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layer1.bias")));
  EXPECT_TRUE(Unchanged(*target, before));
}

TEST(TensorCodecTest, RefusesMissingTensor) {
  v1::TensorBundle bundle = EncodeModule(*MakeMlp(1));
  bundle.mutable_tensors()->DeleteSubrange(3, 1);  // layer1.bias
  Mlp target = MakeMlp(2);
  const auto before = Snapshot(*target);
  EXPECT_THAT(DecodeModule(bundle, *target),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("layer1.bias"), HasSubstr("missing"))));
  EXPECT_TRUE(Unchanged(*target, before));
}

TEST(TensorCodecTest, RefusesExtraTensor) {
  v1::TensorBundle bundle = EncodeModule(*MakeMlp(1));
  v1::Tensor* extra = bundle.add_tensors();
  extra->set_name("layer9.weight");
  extra->add_shape(1);
  extra->add_values(0.0f);
  Mlp target = MakeMlp(2);
  const auto before = Snapshot(*target);
  EXPECT_THAT(DecodeModule(bundle, *target),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layer9.weight")));
  EXPECT_TRUE(Unchanged(*target, before));
}

TEST(TensorCodecTest, RefusesDuplicateTensor) {
  v1::TensorBundle bundle = EncodeModule(*MakeMlp(1));
  *bundle.add_tensors() = bundle.tensors(0);
  Mlp target = MakeMlp(2);
  const auto before = Snapshot(*target);
  EXPECT_THAT(DecodeModule(bundle, *target),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layer0.weight")));
  EXPECT_TRUE(Unchanged(*target, before));
}

TEST(TensorCodecTest, RefusesNonFiniteValuesWithoutPartialCopy) {
  for (float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    v1::TensorBundle bundle = EncodeModule(*MakeMlp(1));
    // The last tensor: a copy-as-you-go decoder would already have written the others.
    Find(bundle, "layer1.bias")->set_values(2, bad);
    Mlp target = MakeMlp(2);
    const auto before = Snapshot(*target);
    EXPECT_THAT(DecodeModule(bundle, *target),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("layer1.bias"), HasSubstr("is not finite"))));
    EXPECT_TRUE(Unchanged(*target, before));
  }
}

TEST(TensorCodecTest, WorksUnderInferenceMode) {
  Mlp source = MakeMlp(1);
  Mlp target = MakeMlp(2);
  {
    c10::InferenceMode guard;
    GORL_ASSERT_OK(DecodeModule(EncodeModule(*source), *target));
  }
  EXPECT_TRUE(torch::equal(source->parameters()[2], target->parameters()[2]));
}

TEST(TensorCodecTest, GeneratorIsDeterministicPerSeed) {
  const torch::Tensor a = torch::randn({8}, MakeGenerator(42));
  const torch::Tensor b = torch::randn({8}, MakeGenerator(42));
  const torch::Tensor c = torch::randn({8}, MakeGenerator(43));
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
}

}  // namespace
}  // namespace gorl::nn
