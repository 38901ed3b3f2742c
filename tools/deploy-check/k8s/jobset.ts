// TypeScript types of exactly the JobSet fields that deploy/k8s/jobset uses,
// as the JobSet API reference defines them for jobset.x-k8s.io/v1alpha2:
//   https://jobset.sigs.k8s.io/docs/reference/jobset.v1alpha2/
// (source: api/jobset/v1alpha2/jobset_types.go of kubernetes-sigs/jobset).
// A field the manifests start using must be added here (and to
// jobset_schema.mjs, the runtime check of the same fields); anything else is
// an excess property and fails `tsc --noEmit`. The Job template is typed by
// kubernetes-models, so the pod spec inside a JobSet is checked like a Job's.
import type { IIoK8sApimachineryPkgApisMetaV1ObjectMeta as IObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";
import type { IJobTemplateSpec } from "kubernetes-models/batch/v1/JobTemplateSpec";

// FailurePolicyAction. RestartJob and RestartJobAndIgnoreMaxRestarts exist
// from JobSet v0.12.0 on; "RecreateJob" was added and reverted before any
// release, so it is no action.
export type FailurePolicyAction =
  | "FailJobSet"
  | "RestartJobSet"
  | "RestartJobSetAndIgnoreMaxRestarts"
  | "RestartJob"
  | "RestartJobAndIgnoreMaxRestarts";

// The reasons a batch/v1 Job fails with (its Failed condition's reason).
export type JobFailureReason =
  | "BackoffLimitExceeded"
  | "DeadlineExceeded"
  | "PodFailurePolicy"
  | "MaxFailedIndexesExceeded";

export interface IFailurePolicyRule {
  // ^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$ (defaulted upstream; required here).
  name: string;
  action: FailurePolicyAction;
  onJobFailureReasons?: JobFailureReason[];
  targetReplicatedJobs?: string[];
}

export interface IFailurePolicy {
  maxRestarts?: number;
  rules?: IFailurePolicyRule[];
}

export interface ISuccessPolicy {
  operator: "All" | "Any";
  targetReplicatedJobs?: string[];
}

export interface IStartupPolicy {
  startupPolicyOrder: "AnyOrder" | "InOrder";
}

export interface INetwork {
  enableDNSHostnames?: boolean;
  subdomain?: string;
  publishNotReadyAddresses?: boolean;
}

export interface IReplicatedJob {
  name: string;
  replicas?: number;
  template: IJobTemplateSpec;
}

export interface IJobSetSpec {
  replicatedJobs: IReplicatedJob[];
  network?: INetwork;
  successPolicy?: ISuccessPolicy;
  failurePolicy?: IFailurePolicy;
  startupPolicy?: IStartupPolicy;
}

export interface IJobSet {
  apiVersion: "jobset.x-k8s.io/v1alpha2";
  kind: "JobSet";
  metadata: IObjectMeta;
  spec: IJobSetSpec;
}
