#include "runtime/message_ops.h"

#include <algorithm>
#include <cstdint>

namespace gorl::runtime {
namespace {

// Copies rows [first, first + count) of every block of `n` rows of `width`
// values (time-major data: row t * n + env).
template <typename Field>
void CopyEnvRows(const Field& from, int n, int width, int first, int count, Field* to) {
  // A width of 0 is a record the rollout does not have (FPO's for DPPO...).
  const int blocks = n > 0 && width > 0 ? from.size() / (n * width) : 0;
  to->Reserve(blocks * count * width);
  for (int b = 0; b < blocks; ++b) {
    const int start = (b * n + first) * width;
    to->Add(from.begin() + start, from.begin() + start + count * width);
  }
}

// Episode ends (terminated or truncated) of envs [first, first + count).
int64_t EpisodeEnds(const v1::Rollout& r, int first, int count) {
  const int n = r.num_envs();
  int64_t ends = 0;
  for (int i = 0; i < r.terminated_size() && n > 0; ++i) {
    const int env = i % n;
    if (env >= first && env < first + count) ends += r.terminated(i) || r.truncated(i);
  }
  return ends;
}

}  // namespace

v1::Rollout SliceEnvs(const v1::Rollout& r, int first, int count) {
  v1::Rollout out;
  out.set_encoder_version(r.encoder_version());
  out.set_num_envs(count);
  out.set_unroll_length(r.unroll_length());
  out.set_obs_size(r.obs_size());
  out.set_latent_size(r.latent_size());
  out.set_actor_id(r.actor_id());
  const int n = r.num_envs();
  CopyEnvRows(r.observations(), n, r.obs_size(), first, count, out.mutable_observations());
  CopyEnvRows(r.latents(), n, r.latent_size(), first, count, out.mutable_latents());
  CopyEnvRows(r.log_probs(), n, 1, first, count, out.mutable_log_probs());
  CopyEnvRows(r.rewards(), n, 1, first, count, out.mutable_rewards());
  CopyEnvRows(r.terminated(), n, 1, first, count, out.mutable_terminated());
  CopyEnvRows(r.truncated(), n, 1, first, count, out.mutable_truncated());
  // FPO's and DPPO's per-step records (none for the other algorithms).
  const int m = r.fpo_draws(), k = r.dppo_steps(), a = r.latent_size();
  out.set_fpo_draws(m);
  out.set_dppo_steps(k);
  CopyEnvRows(r.fpo_times(), n, m, first, count, out.mutable_fpo_times());
  CopyEnvRows(r.fpo_noise(), n, m * a, first, count, out.mutable_fpo_noise());
  CopyEnvRows(r.fpo_old_losses(), n, m, first, count, out.mutable_fpo_old_losses());
  CopyEnvRows(r.dppo_chain(), n, (k + 1) * a, first, count, out.mutable_dppo_chain());
  CopyEnvRows(r.dppo_old_log_probs(), n, k, first, count, out.mutable_dppo_old_log_probs());
  // Episode returns name no env, but a rollout may not carry more of them
  // than episodes ended in it (common/message_checks.h). Contiguous slices
  // take them in env order, each at most as many as episodes ended in it,
  // so that the slices of a rollout together carry all of them; diverged
  // counts go the same way.
  const int64_t returns = r.episode_returns_size();
  const int64_t before = std::min(returns, EpisodeEnds(r, 0, first));
  const int64_t mine = std::min(returns - before, EpisodeEnds(r, first, count));
  out.mutable_episode_returns()->Add(r.episode_returns().begin() + before,
                                     r.episode_returns().begin() + before + mine);
  const int64_t diverged_before = std::min<int64_t>(r.diverged_episodes(), before);
  out.set_diverged_episodes(
      static_cast<int>(std::min(r.diverged_episodes() - diverged_before, mine)));
  return out;
}

std::vector<v1::RefinementData> SplitPairs(const v1::RefinementData& data, size_t max_bytes) {
  const int obs = data.obs_size(), act = data.action_size();
  const bool latents = data.latents_size() > 0;
  const int64_t pairs = NumPairs(data);
  // Packed floats cost 4 bytes each; keep 1 KiB for tags and lengths.
  const size_t row_bytes = 4 * static_cast<size_t>(obs + act * (latents ? 2 : 1));
  const int64_t rows_per_chunk = std::max<int64_t>(
      1, static_cast<int64_t>((max_bytes - std::min<size_t>(max_bytes / 2, 1024)) /
                              std::max<size_t>(row_bytes, 1)));
  std::vector<v1::RefinementData> chunks;
  for (int64_t begin = 0; begin < pairs || chunks.empty(); begin += rows_per_chunk) {
    const int64_t end = std::min(pairs, begin + rows_per_chunk);
    v1::RefinementData& chunk = chunks.emplace_back();
    chunk.set_obs_size(obs);
    chunk.set_action_size(act);
    chunk.mutable_observations()->Add(data.observations().begin() + begin * obs,
                                      data.observations().begin() + end * obs);
    chunk.mutable_actions()->Add(data.actions().begin() + begin * act,
                                 data.actions().begin() + end * act);
    if (latents) {
      chunk.mutable_latents()->Add(data.latents().begin() + begin * act,
                                   data.latents().begin() + end * act);
    }
    if (end >= pairs) break;
  }
  return chunks;
}

void AppendPairs(const v1::RefinementData& chunk, v1::RefinementData& into) {
  into.set_obs_size(chunk.obs_size());
  into.set_action_size(chunk.action_size());
  into.mutable_observations()->Add(chunk.observations().begin(), chunk.observations().end());
  into.mutable_actions()->Add(chunk.actions().begin(), chunk.actions().end());
  into.mutable_latents()->Add(chunk.latents().begin(), chunk.latents().end());
}

}  // namespace gorl::runtime
