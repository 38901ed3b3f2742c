// Fuzzes the way weights come in from another role
// (common/nn/tensor_codec.h DecodeModule, and DecoderModel::FromProto, which
// an actor runs on the decoder the learner sends). Input: one serialised
// message (layout: fuzz_inputs.h), parsed as a TensorBundle and as a
// Decoder. DecodeModule promises that a refused bundle leaves the module as
// it was and that an accepted one sets exactly its values; both are checked.
// A decoder that FromProto accepts must decode a batch.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <torch/torch.h>

#include "common/nn/decoder.h"
#include "common/nn/mlp.h"
#include "common/nn/tensor_codec.h"
#include "fuzz_inputs.h"
#include "gorl/v1/policy.pb.h"
#include "gorl/v1/tensor.pb.h"

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

gorl::nn::Mlp& Module() {
  static gorl::nn::Mlp* const mlp = [] {
    gorl::nn::MlpOptions options;
    options.input_size = gorl::fuzz::kCodecMlpInput;
    options.hidden = {gorl::fuzz::kCodecMlpHidden};
    options.output_size = gorl::fuzz::kCodecMlpOutput;
    return new gorl::nn::Mlp(options, gorl::nn::MakeGenerator(1));
  }();
  return *mlp;
}

void FuzzBundle(const std::string& bytes) {
  gorl::v1::TensorBundle bundle;
  if (!bundle.ParseFromString(bytes)) return;
  gorl::nn::Mlp& mlp = Module();
  const std::string before = gorl::nn::EncodeModule(*mlp).SerializeAsString();
  if (!gorl::nn::DecodeModule(bundle, *mlp).ok()) {
    Require(gorl::nn::EncodeModule(*mlp).SerializeAsString() == before);
    return;
  }
  // Every tensor is set from the bundle: re-encoded, each has its values.
  const gorl::v1::TensorBundle after = gorl::nn::EncodeModule(*mlp);
  Require(after.tensors_size() == bundle.tensors_size());
  for (const gorl::v1::Tensor& tensor : after.tensors()) {
    bool found = false;
    for (const gorl::v1::Tensor& source : bundle.tensors()) {
      if (source.name() != tensor.name()) continue;
      found = true;
      Require(source.values_size() == tensor.values_size());
      for (int i = 0; i < tensor.values_size(); ++i) {
        Require(source.values(i) == tensor.values(i));
      }
    }
    Require(found);
  }
}

void FuzzDecoder(const std::string& bytes) {
  gorl::v1::Decoder proto;
  if (!proto.ParseFromString(bytes)) return;
  auto decoder = gorl::nn::DecoderModel::FromProto(proto);
  if (!decoder.ok()) return;
  torch::NoGradGuard no_grad;
  const torch::Tensor obs = torch::zeros({2, (*decoder)->obs_size()});
  const torch::Tensor z = torch::zeros({2, (*decoder)->action_size()});
  const torch::Tensor actions = (*decoder)->Decode(obs, z);
  Require(actions.dim() == 2 && actions.size(0) == 2 &&
          actions.size(1) == (*decoder)->action_size());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // One thread: the fuzzer measures one input at a time, and intra-op
  // threads would only add noise (and thread-pool start-up) to each.
  torch::set_num_threads(1);
  Module();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  FuzzBundle(bytes);
  FuzzDecoder(bytes);
  return 0;
}
