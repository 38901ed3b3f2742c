// Prometheus metrics of one gorl process (learner, refiner or actor),
// served by prometheus-cpp's pull exposer on its own port.
//
// Names follow Prometheus conventions: `gorl_` prefix, `_total` counters,
// base units (seconds, bytes). Every series carries the label role="..."
// (and instance="<actor id>" for actors). The scrape config sets
// honor_labels, so Prometheus keeps that instance label instead of renaming
// it to exported_instance (deploy/prometheus/prometheus.yml). One object per
// process; thread-safe (the prometheus-cpp metric types are).
#ifndef GORL_COMMON_METRICS_H_
#define GORL_COMMON_METRICS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gorl {

class RoleMetrics {
 public:
  // Serves http://<bind_address>/metrics. The address is numeric IPv4, e.g.
  // "127.0.0.1:9100" or "0.0.0.0:9100"; port 0 is not allowed (Prometheus
  // needs a known port). `role` is "learner", "refiner" or "actor";
  // `instance` (the actor id, or "") becomes a label.
  // A malformed address is InvalidArgument; a port that cannot be bound
  // (taken, or an address not on this host) is Unavailable.
  static absl::StatusOr<std::unique_ptr<RoleMetrics>> Serve(const std::string& bind_address,
                                                            const std::string& role,
                                                            const std::string& instance);
  // Same metrics, not served (in-process use, tests).
  static std::unique_ptr<RoleMetrics> Unserved(const std::string& role,
                                               const std::string& instance);
  ~RoleMetrics();
  // Owns the exporter's HTTP server threads and socket.
  RoleMetrics(const RoleMetrics&) = delete;
  RoleMetrics& operator=(const RoleMetrics&) = delete;

  // --- counters (monotonic) ---
  void AddEnvSteps(double steps);               // gorl_env_steps_total
  void AddEpisodes(double episodes);            // gorl_episodes_total
  void AddDivergedEpisodes(double episodes);    // gorl_diverged_episodes_total
  void AddRpcError(const std::string& method);  // gorl_rpc_errors_total{method}
  // gorl_messages_refused_total{reason}: a closed set of short reasons
  // (common/message_checks.h RefusalReason, runtime/actor_fleet.h).
  void AddMessageRefused(const std::string& reason);
  void AddRolloutsReceived(double rollouts);      // gorl_rollouts_received_total
  void AddStaleRolloutsDropped(double rollouts);  // gorl_stale_rollouts_dropped_total
  void AddPpoUpdates(double updates);             // gorl_ppo_updates_total
  void AddRefinements(double refinements);        // gorl_refinements_total
  // A call refused for its client certificate or token; `reason` is one of
  // runtime/auth_processor.h's kReason* values.
  void AddAuthFailure(const std::string& reason);  // gorl_auth_failures_total{reason}
  // Its current value (for tests that cannot scrape an exporter).
  double AuthFailures(const std::string& reason) const;

  // Create the series of these label values at zero, so that every scrape
  // holds the family before its first event: a dashboard panel or alert
  // that names it is never empty just because nothing failed yet
  // (runtime/metrics_endpoint.cc declares each role's closed sets).
  void DeclareRpcMethods(const std::vector<std::string>& methods);
  void DeclareRefusalReasons(const std::vector<std::string>& reasons);
  void DeclareAuthFailureReasons(const std::vector<std::string>& reasons);

  // --- gauges (last value) ---
  // gorl_build_info{version} is 1 from the start (common/build_info.h).
  void SetStepsPerSecond(double v);  // gorl_env_steps_per_second
  // gorl_heartbeat_timestamp_seconds := now (unix time): the role's main
  // loop is alive (`gorl health --metrics` checks its age).
  void Heartbeat();
  // gorl_run_env_steps: PPO env steps the run has done (the learner; from
  // the checkpoint on --resume).
  void SetRunEnvSteps(double v);
  void SetEpisodeReturn(double v);      // gorl_episode_return (mean of the last finished episodes)
  void SetEvalReturn(double v);         // gorl_eval_return
  void SetPolicyLoss(double v);         // gorl_ppo_policy_loss
  void SetValueLoss(double v);          // gorl_ppo_value_loss
  void SetApproxKl(double v);           // gorl_ppo_approx_kl
  void SetClipFraction(double v);       // gorl_ppo_clip_fraction
  void SetEntropy(double v);            // gorl_ppo_entropy
  void SetExplainedVariance(double v);  // gorl_ppo_explained_variance
  void SetDecoderLoss(double v);        // gorl_decoder_validation_loss
  void SetStage(double v);              // gorl_stage
  void SetPolicyVersion(double v);      // gorl_policy_version
  void SetPolicyLag(double v);          // gorl_policy_lag (versions behind, last batch max)
  void SetQueueDepth(double v);         // gorl_rollout_queue_depth (sequences waiting)
  void SetQueueCapacity(double v);      // gorl_rollout_queue_capacity (the "queue full" alert)
  void SetConnectedActors(double v);    // gorl_connected_actors
  // Learner: the largest lag a batch accepts (--max_policy_lag; 0 on-policy).
  void SetPolicyLagLimit(double v);  // gorl_policy_lag_limit
  // Learner: wall-clock time (Unix seconds) of the last checkpoint written.
  void SetLastCheckpointTimestamp(double unix_seconds);  // gorl_last_checkpoint_timestamp_seconds
  // Learner: Unix time its current training iteration began (gathering the
  // rollouts of the next PPO update): the "training stalled" alert fires
  // when that is long ago while the phase is still "train".
  void SetIterationStartTimestamp(double unix_seconds);  // gorl_iteration_start_timestamp_seconds
  // Learner: PPO updates since then, and the configured interval in updates
  // (checkpoint_every_iterations; 0: periodic checkpoints off). The
  // "checkpoint overdue" alert compares the two, so a long refinement,
  // which makes no updates, never looks like a missed checkpoint.
  void SetUpdatesSinceCheckpoint(double v);     // gorl_ppo_updates_since_checkpoint
  void SetCheckpointIntervalUpdates(double v);  // gorl_checkpoint_interval_updates
  // Learner: what the training loop is doing, one of LearnerPhases();
  // gorl_learner_phase{phase} is 1 for it and 0 for the others.
  void SetLearnerPhase(const std::string& phase);
  static const std::vector<std::string>& LearnerPhases();
  // Learner: wall time spent in `phase` (one of LearnerPhases()).
  void AddLearnerPhaseSeconds(const std::string& phase,
                              double seconds);  // gorl_learner_phase_seconds_total{phase}
  // Learner: the best evaluation return of a stage so far.
  void SetStageBestReturn(int stage, double v);  // gorl_stage_best_return{stage}
  // Learner, at each refinement (docs/learning.md, "Refinement fidelity"):
  // gorl_refinement_fidelity{against, measure}: `against` is prior,
  // fresh_encoder or floor; `measure` sliced_wasserstein, mean_error or std_error.
  void SetRefinementFidelity(const std::string& against, const std::string& measure, double v);
  // gorl_refinement_return{policy, mode}: the evaluation return of the
  // collecting policy and of the refined one (new decoder, fresh encoder,
  // before any update); mode stochastic or deterministic.
  void SetRefinementReturn(const std::string& policy, const std::string& mode, double v);
  // Refiner: the epoch of the decoder being trained and its validation loss.
  void SetRefineEpoch(double v);                // gorl_refine_epoch
  void SetRefineEpochValidationLoss(double v);  // gorl_refine_epoch_validation_loss

  // --- histograms ---
  void ObserveInferenceSeconds(double seconds);  // gorl_inference_latency_seconds
  void ObserveUpdateSeconds(double seconds);     // gorl_ppo_update_duration_seconds

 private:
  struct Impl;
  explicit RoleMetrics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gorl

#endif  // GORL_COMMON_METRICS_H_
