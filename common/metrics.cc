#include "common/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <limits>
#include <thread>
#include <utility>

#include <glog/logging.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/build_info.h"

namespace gorl {
namespace {

using prometheus::Counter;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Labels;
using prometheus::Registry;

// 1-2.5-5 steps per decade, like Prometheus' default buckets: log-spaced so
// both a 20 µs batched forward pass and a 200 ms stall land in a resolved
// bucket. Literals, not computed, so the `le` labels print without round-off.
const Histogram::BucketBoundaries& InferenceBuckets() {
  static const auto* const kBuckets =
      new Histogram::BucketBoundaries{1e-5, 2.5e-5, 5e-5,  1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
                                      5e-3, 0.01,   0.025, 0.05, 0.1,    0.25, 0.5,  1};
  return *kBuckets;
}

// A PPO update (all epochs over one batch) takes from tens of milliseconds on
// toy tasks to about a minute on humanoid-sized batches.
const Histogram::BucketBoundaries& UpdateBuckets() {
  static const auto* const kBuckets = new Histogram::BucketBoundaries{
      0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100};
  return *kBuckets;
}

// Where the exposer listens, checked up front so that bad input is an
// InvalidArgument, not whatever civetweb makes of it (it reads "999.1.1.1"
// and a bare "9100" without complaint).
struct BindAddress {
  sockaddr_in knock{};  // where to connect() to reach the listener
};

// Accepts "<IPv4>:<port>" with a port in 1..65535. Debian's civetweb is built
// without IPv6, so "[::1]:9100" could never bind; say so instead.
absl::StatusOr<BindAddress> ParseBindAddress(const std::string& address) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("metrics address '", address, "' ", why));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return invalid("is not <IPv4>:<port>");
  int port = 0;
  if (!absl::SimpleAtoi(absl::string_view(address).substr(colon + 1), &port) || port < 1 ||
      port > 65535) {
    return invalid("needs a port in 1..65535 (Prometheus scrapes a known port)");
  }
  BindAddress bind;
  bind.knock.sin_family = AF_INET;
  bind.knock.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &bind.knock.sin_addr) != 1) {
    return invalid("needs a numeric IPv4 host (no host names; IPv6 is unsupported)");
  }
  // A wildcard listener is reached over loopback.
  if (bind.knock.sin_addr.s_addr == htonl(INADDR_ANY)) {
    bind.knock.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  return bind;
}

// Opens and closes one connection to `bind`, ignoring every failure.
void Knock(const BindAddress& bind) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)connect(fd, reinterpret_cast<const sockaddr*>(&bind.knock), sizeof(bind.knock));
  close(fd);
}

// civetweb's accept loop polls its listening sockets in 2 s slices and looks
// at the stop flag only between slices, so a bare ~Exposer blocks for up to
// 2 s (every test, every shutdown). A connection ends the slice at once, so
// knock until the destructor has returned: it then takes milliseconds.
void StopExposer(std::unique_ptr<prometheus::Exposer> exposer, const BindAddress& bind) {
  std::atomic<bool> stopped{false};
  std::thread knocker([&] {
    while (!stopped.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (!stopped.load()) Knock(bind);
    }
  });
  exposer.reset();
  stopped.store(true);
  knocker.join();
}

}  // namespace

struct RoleMetrics::Impl {
  Impl(const std::string& role, const std::string& instance);

  // `role` is a constant label of every family; `instance` goes on each
  // series instead, so the text exposition reads role="..",instance=".."
  // (constant labels come first) and an empty id adds no label at all.
  Labels series_labels;
  std::shared_ptr<Registry> registry = std::make_shared<Registry>();

  Counter* env_steps;
  Counter* episodes;
  Counter* diverged_episodes;
  prometheus::Family<Counter>* rpc_errors;        // one series per failing method
  prometheus::Family<Counter>* messages_refused;  // one series per reason
  prometheus::Family<Counter>* auth_failures;     // one series per refusal reason
  Counter* rollouts_received;
  Counter* stale_rollouts_dropped;
  Counter* ppo_updates;
  Counter* refinements;

  Gauge* steps_per_second;
  Gauge* heartbeat;
  Gauge* run_env_steps;
  Gauge* episode_return;
  Gauge* eval_return;
  Gauge* policy_loss;
  Gauge* value_loss;
  Gauge* approx_kl;
  Gauge* clip_fraction;
  Gauge* entropy;
  Gauge* explained_variance;
  Gauge* decoder_loss;
  Gauge* stage;
  Gauge* policy_version;
  Gauge* policy_lag;
  Gauge* queue_depth;
  Gauge* queue_capacity;
  Gauge* connected_actors;
  Gauge* policy_lag_limit;
  Gauge* last_checkpoint_timestamp;
  Gauge* updates_since_checkpoint;
  Gauge* iteration_start_timestamp;
  Gauge* checkpoint_interval_updates;
  prometheus::Family<Gauge>* learner_phase;            // one series per phase, all created up front
  prometheus::Family<Counter>* learner_phase_seconds;  // likewise
  prometheus::Family<Gauge>* stage_best_return;
  prometheus::Family<Gauge>* refinement_fidelity;
  prometheus::Family<Gauge>* refinement_return;
  Gauge* refine_epoch;
  Gauge* refine_epoch_validation_loss;

  // The series of `family` with the process's labels plus `extra`.
  template <typename Metric>
  Metric& Series(prometheus::Family<Metric>* family, const Labels& extra) {
    Labels labels = series_labels;
    for (const auto& [key, value] : extra) labels[key] = value;
    return family->Add(labels);
  }

  Histogram* inference_seconds;
  Histogram* update_seconds;

  // Null when unserved. Stopped in ~Impl before the rest goes away.
  std::unique_ptr<prometheus::Exposer> exposer;
  BindAddress bind;

  ~Impl() {
    if (exposer != nullptr) StopExposer(std::move(exposer), bind);
  }
};

RoleMetrics::Impl::Impl(const std::string& role, const std::string& instance) {
  if (!instance.empty()) series_labels = {{"instance", instance}};
  const Labels constant = {{"role", role}};
  auto counter_family = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Labels(constant).Register(*registry);
  };
  auto counter = [&](const char* name, const char* help) {
    return &counter_family(name, help)->Add(series_labels);
  };
  auto gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Labels(constant).Register(*registry).Add(
        series_labels);
  };
  auto histogram = [&](const char* name, const char* help,
                       const Histogram::BucketBoundaries& buckets) {
    return &prometheus::BuildHistogram()
                .Name(name)
                .Help(help)
                .Labels(constant)
                .Register(*registry)
                .Add(series_labels, buckets);
  };

  // Prometheus' "which build is this" convention: a constant 1 whose label
  // names the build, so a query joins on it and an alert sees mixed builds
  // (deploy/prometheus/rules.yml, GorlMixedBuilds).
  Labels build_labels = series_labels;
  build_labels.emplace("version", BuildVersion());
  prometheus::BuildGauge()
      .Name("gorl_build_info")
      .Help("1, labelled with this process's gorl build (git describe; gorl --version).")
      .Labels(constant)
      .Register(*registry)
      .Add(build_labels)
      .Set(1);

  env_steps = counter("gorl_env_steps_total", "Environment steps taken.");
  episodes = counter("gorl_episodes_total", "Episodes finished.");
  diverged_episodes = counter("gorl_diverged_episodes_total",
                              "Episodes cut short because the simulation diverged.");
  rpc_errors = counter_family("gorl_rpc_errors_total", "Failed RPCs, by method.");
  messages_refused = counter_family("gorl_messages_refused_total",
                                    "Peer messages and calls the learner refused, by reason.");
  auth_failures = counter_family("gorl_auth_failures_total",
                                 "Calls refused for a missing or wrong client certificate or run "
                                 "token, by reason.");
  rollouts_received = counter("gorl_rollouts_received_total", "Rollouts the learner received.");
  stale_rollouts_dropped = counter("gorl_stale_rollouts_dropped_total",
                                   "Rollouts dropped for exceeding the policy lag limit.");
  ppo_updates = counter("gorl_ppo_updates_total", "PPO updates applied.");
  refinements = counter("gorl_refinements_total", "Refinement rounds finished.");

  steps_per_second = gauge("gorl_env_steps_per_second", "Recent environment steps per second.");
  heartbeat = gauge("gorl_heartbeat_timestamp_seconds",
                    "Unix time of the main loop's last turn (liveness).");
  run_env_steps = gauge("gorl_run_env_steps", "PPO env steps the run has done.");
  episode_return = gauge("gorl_episode_return", "Mean return of the last finished episodes.");
  eval_return = gauge("gorl_eval_return", "Mean return of the last evaluation.");
  policy_loss = gauge("gorl_ppo_policy_loss", "PPO clipped surrogate loss of the last update.");
  value_loss = gauge("gorl_ppo_value_loss", "PPO value loss of the last update.");
  approx_kl = gauge("gorl_ppo_approx_kl", "Approximate KL(old || new) of the last update.");
  clip_fraction = gauge("gorl_ppo_clip_fraction", "Fraction of clipped ratios in the last update.");
  entropy = gauge("gorl_ppo_entropy", "Policy entropy in the last update.");
  explained_variance =
      gauge("gorl_ppo_explained_variance", "Explained variance of the value function.");
  decoder_loss = gauge("gorl_decoder_validation_loss", "Decoder loss on held-out data.");
  stage = gauge("gorl_stage", "Current training stage.");
  policy_version = gauge("gorl_policy_version", "Version of the policy in use.");
  policy_lag = gauge("gorl_policy_lag", "Versions behind the learner, max over the last batch.");
  queue_depth = gauge("gorl_rollout_queue_depth", "Rollout sequences waiting for the learner.");
  queue_capacity = gauge("gorl_rollout_queue_capacity", "Rollout sequences the queue holds.");
  connected_actors = gauge("gorl_connected_actors", "Actors currently connected.");
  policy_lag_limit =
      gauge("gorl_policy_lag_limit", "Largest policy lag a batch accepts (0: on-policy).");
  last_checkpoint_timestamp = gauge("gorl_last_checkpoint_timestamp_seconds",
                                    "Unix time of the last checkpoint written (0: none yet).");
  iteration_start_timestamp =
      gauge("gorl_iteration_start_timestamp_seconds",
            "Unix time the learner's current training iteration began (0: none yet).");
  updates_since_checkpoint =
      gauge("gorl_ppo_updates_since_checkpoint", "PPO updates since the last checkpoint written.");
  checkpoint_interval_updates =
      gauge("gorl_checkpoint_interval_updates",
            "PPO updates between periodic checkpoints (0: periodic checkpoints off).");
  learner_phase = &prometheus::BuildGauge()
                       .Name("gorl_learner_phase")
                       .Help("1 for what the learner's training loop is doing, else 0.")
                       .Labels(constant)
                       .Register(*registry);
  learner_phase_seconds = counter_family("gorl_learner_phase_seconds_total",
                                         "Wall time the learner's training loop spent, by phase.");
  for (const std::string& phase : RoleMetrics::LearnerPhases()) {
    Series(learner_phase, {{"phase", phase}});
    Series(learner_phase_seconds, {{"phase", phase}});
  }
  auto gauge_family = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Labels(constant).Register(*registry);
  };
  stage_best_return =
      gauge_family("gorl_stage_best_return", "Best evaluation return of each stage so far.");
  refinement_fidelity = gauge_family(
      "gorl_refinement_fidelity",
      "Distance between the collecting policy's actions and the refined policy's at held-out "
      "states, at the last refinement (against: prior, fresh_encoder, or floor = two samples "
      "of the collecting policy).");
  refinement_return = gauge_family(
      "gorl_refinement_return",
      "Evaluation return of the collecting policy and of the refined one before any update, at "
      "the last refinement.");
  // Every family is in every scrape from the start: the series a run will
  // set are created as NaN ("not measured yet"), not 0, which would read as
  // a perfect refinement or a zero return.
  const double not_yet = std::numeric_limits<double>::quiet_NaN();
  Series(stage_best_return, {{"stage", "0"}}).Set(not_yet);
  for (const char* against : {"prior", "fresh_encoder", "floor"}) {
    for (const char* measure : {"sliced_wasserstein", "mean_error", "std_error"}) {
      Series(refinement_fidelity, {{"against", against}, {"measure", measure}}).Set(not_yet);
    }
  }
  for (const char* policy : {"collecting", "refined"}) {
    for (const char* mode : {"stochastic", "deterministic"}) {
      Series(refinement_return, {{"policy", policy}, {"mode", mode}}).Set(not_yet);
    }
  }
  refine_epoch = gauge("gorl_refine_epoch", "Epoch of the decoder being trained (from 1).");
  refine_epoch_validation_loss =
      gauge("gorl_refine_epoch_validation_loss", "Validation loss of the decoder's last epoch.");

  inference_seconds =
      histogram("gorl_inference_latency_seconds", "Wall time of one batched policy forward pass.",
                InferenceBuckets());
  update_seconds = histogram("gorl_ppo_update_duration_seconds", "Wall time of one PPO update.",
                             UpdateBuckets());
}

RoleMetrics::RoleMetrics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RoleMetrics::~RoleMetrics() = default;

absl::StatusOr<std::unique_ptr<RoleMetrics>> RoleMetrics::Serve(const std::string& bind_address,
                                                                const std::string& role,
                                                                const std::string& instance) {
  absl::StatusOr<BindAddress> bind = ParseBindAddress(bind_address);
  if (!bind.ok()) return bind.status();
  auto impl = std::make_unique<Impl>(role, instance);
  impl->bind = *bind;
  // civetweb reports a failed bind (port taken, address not local, bad host)
  // only by throwing from the Exposer constructor.
  try {
    impl->exposer = std::make_unique<prometheus::Exposer>(bind_address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", bind_address, ": ", e.what()));
  }
  impl->exposer->RegisterCollectable(impl->registry);
  LOG(INFO) << "serving " << role << " metrics on http://" << bind_address << "/metrics";
  return std::unique_ptr<RoleMetrics>(new RoleMetrics(std::move(impl)));
}

std::unique_ptr<RoleMetrics> RoleMetrics::Unserved(const std::string& role,
                                                   const std::string& instance) {
  return std::unique_ptr<RoleMetrics>(new RoleMetrics(std::make_unique<Impl>(role, instance)));
}

void RoleMetrics::AddEnvSteps(double steps) { impl_->env_steps->Increment(steps); }
void RoleMetrics::AddEpisodes(double episodes) { impl_->episodes->Increment(episodes); }
void RoleMetrics::AddDivergedEpisodes(double episodes) {
  impl_->diverged_episodes->Increment(episodes);
}
void RoleMetrics::AddRpcError(const std::string& method) {
  // Family::Add looks the series up under a mutex; fine for errors, which
  // are rare, and it keeps the method set open.
  Labels labels = impl_->series_labels;
  labels["method"] = method;
  impl_->rpc_errors->Add(labels).Increment();
}
void RoleMetrics::AddMessageRefused(const std::string& reason) {
  Labels labels = impl_->series_labels;
  labels["reason"] = reason;
  impl_->messages_refused->Add(labels).Increment();
}
void RoleMetrics::AddAuthFailure(const std::string& reason) {
  // The reasons are a fixed set of constants: the series stay bounded.
  Labels labels = impl_->series_labels;
  labels["reason"] = reason;
  impl_->auth_failures->Add(labels).Increment();
}
double RoleMetrics::AuthFailures(const std::string& reason) const {
  Labels labels = impl_->series_labels;
  labels["reason"] = reason;
  return impl_->auth_failures->Add(labels).Value();
}

// Declared series start at zero; Add returns the existing one if any.
void RoleMetrics::DeclareRpcMethods(const std::vector<std::string>& methods) {
  for (const std::string& method : methods) {
    Labels labels = impl_->series_labels;
    labels["method"] = method;
    impl_->rpc_errors->Add(labels);
  }
}
void RoleMetrics::DeclareRefusalReasons(const std::vector<std::string>& reasons) {
  for (const std::string& reason : reasons) {
    Labels labels = impl_->series_labels;
    labels["reason"] = reason;
    impl_->messages_refused->Add(labels);
  }
}
void RoleMetrics::DeclareAuthFailureReasons(const std::vector<std::string>& reasons) {
  for (const std::string& reason : reasons) {
    Labels labels = impl_->series_labels;
    labels["reason"] = reason;
    impl_->auth_failures->Add(labels);
  }
}
void RoleMetrics::AddRolloutsReceived(double rollouts) {
  impl_->rollouts_received->Increment(rollouts);
}
void RoleMetrics::AddStaleRolloutsDropped(double rollouts) {
  impl_->stale_rollouts_dropped->Increment(rollouts);
}
void RoleMetrics::AddPpoUpdates(double updates) { impl_->ppo_updates->Increment(updates); }
void RoleMetrics::AddRefinements(double refinements) { impl_->refinements->Increment(refinements); }

void RoleMetrics::SetStepsPerSecond(double v) { impl_->steps_per_second->Set(v); }
void RoleMetrics::Heartbeat() { impl_->heartbeat->SetToCurrentTime(); }
void RoleMetrics::SetRunEnvSteps(double v) { impl_->run_env_steps->Set(v); }
void RoleMetrics::SetEpisodeReturn(double v) { impl_->episode_return->Set(v); }
void RoleMetrics::SetEvalReturn(double v) { impl_->eval_return->Set(v); }
void RoleMetrics::SetPolicyLoss(double v) { impl_->policy_loss->Set(v); }
void RoleMetrics::SetValueLoss(double v) { impl_->value_loss->Set(v); }
void RoleMetrics::SetApproxKl(double v) { impl_->approx_kl->Set(v); }
void RoleMetrics::SetClipFraction(double v) { impl_->clip_fraction->Set(v); }
void RoleMetrics::SetEntropy(double v) { impl_->entropy->Set(v); }
void RoleMetrics::SetExplainedVariance(double v) { impl_->explained_variance->Set(v); }
void RoleMetrics::SetDecoderLoss(double v) { impl_->decoder_loss->Set(v); }
void RoleMetrics::SetStage(double v) { impl_->stage->Set(v); }
void RoleMetrics::SetPolicyVersion(double v) { impl_->policy_version->Set(v); }
void RoleMetrics::SetPolicyLag(double v) { impl_->policy_lag->Set(v); }
void RoleMetrics::SetQueueDepth(double v) { impl_->queue_depth->Set(v); }
void RoleMetrics::SetQueueCapacity(double v) { impl_->queue_capacity->Set(v); }
void RoleMetrics::SetConnectedActors(double v) { impl_->connected_actors->Set(v); }
void RoleMetrics::SetPolicyLagLimit(double v) { impl_->policy_lag_limit->Set(v); }
void RoleMetrics::SetLastCheckpointTimestamp(double unix_seconds) {
  impl_->last_checkpoint_timestamp->Set(unix_seconds);
}
void RoleMetrics::SetIterationStartTimestamp(double unix_seconds) {
  impl_->iteration_start_timestamp->Set(unix_seconds);
}
void RoleMetrics::SetUpdatesSinceCheckpoint(double v) { impl_->updates_since_checkpoint->Set(v); }
void RoleMetrics::SetCheckpointIntervalUpdates(double v) {
  impl_->checkpoint_interval_updates->Set(v);
}

const std::vector<std::string>& RoleMetrics::LearnerPhases() {
  // start: loading, waiting for its first actors; train: gathering rollouts
  // and updating; evaluate, collect (refinement pairs), refine (waiting for
  // the refiner's decoder): the phases in which no PPO update happens.
  static const auto* const kPhases =
      new std::vector<std::string>{"start", "train", "evaluate", "collect", "refine", "done"};
  return *kPhases;
}

void RoleMetrics::SetLearnerPhase(const std::string& phase) {
  // Every known phase was created up front; an unknown one gets its own
  // series rather than being lost.
  bool known = false;
  for (const std::string& p : LearnerPhases()) {
    Labels labels = impl_->series_labels;
    labels["phase"] = p;
    impl_->learner_phase->Add(labels).Set(p == phase ? 1 : 0);
    known = known || p == phase;
  }
  if (!known) {
    Labels labels = impl_->series_labels;
    labels["phase"] = phase;
    impl_->learner_phase->Add(labels).Set(1);
  }
}

void RoleMetrics::AddLearnerPhaseSeconds(const std::string& phase, double seconds) {
  impl_->Series(impl_->learner_phase_seconds, {{"phase", phase}}).Increment(seconds);
}
void RoleMetrics::SetStageBestReturn(int stage, double v) {
  impl_->Series(impl_->stage_best_return, {{"stage", std::to_string(stage)}}).Set(v);
}
void RoleMetrics::SetRefinementFidelity(const std::string& against, const std::string& measure,
                                        double v) {
  impl_->Series(impl_->refinement_fidelity, {{"against", against}, {"measure", measure}}).Set(v);
}
void RoleMetrics::SetRefinementReturn(const std::string& policy, const std::string& mode,
                                      double v) {
  impl_->Series(impl_->refinement_return, {{"policy", policy}, {"mode", mode}}).Set(v);
}
void RoleMetrics::SetRefineEpoch(double v) { impl_->refine_epoch->Set(v); }
void RoleMetrics::SetRefineEpochValidationLoss(double v) {
  impl_->refine_epoch_validation_loss->Set(v);
}

void RoleMetrics::ObserveInferenceSeconds(double seconds) {
  impl_->inference_seconds->Observe(seconds);
}
void RoleMetrics::ObserveUpdateSeconds(double seconds) { impl_->update_seconds->Observe(seconds); }

}  // namespace gorl
