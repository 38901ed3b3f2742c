// Runtime check of a JobSet (jobset.x-k8s.io/v1alpha2) against exactly the
// fields that deploy/k8s/jobset uses, as the JobSet API reference defines
// them: https://jobset.sigs.k8s.io/docs/reference/jobset.v1alpha2/
// The same fields as jobset.ts (the tsc pass); kept side by side so that a
// field added to one and not the other shows up in review. Unknown fields,
// wrong types and values outside an enum are errors; the embedded Job
// template and the metadata are validated by kubernetes-models.
import { ObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";
import { JobTemplateSpec } from "kubernetes-models/batch/v1/JobTemplateSpec";

const str = { type: "string" };
const bool = { type: "boolean" };
const int32 = (minimum) => ({ type: "integer", minimum });
const enumOf = (...values) => ({ type: "string", enum: values });
const listOf = (items) => ({ type: "array", items });
const object = (properties, required = []) => ({ type: "object", properties, required });
const model = (Model) => ({ model: Model });

// Kept in step with jobset.ts.
const FAILURE_POLICY_RULE = object(
  {
    name: { type: "string", pattern: /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/ },
    action: enumOf(
      "FailJobSet",
      "RestartJobSet",
      "RestartJobSetAndIgnoreMaxRestarts",
      "RestartJob",
      "RestartJobAndIgnoreMaxRestarts",
    ),
    onJobFailureReasons: listOf(
      enumOf("BackoffLimitExceeded", "DeadlineExceeded", "PodFailurePolicy", "MaxFailedIndexesExceeded"),
    ),
    targetReplicatedJobs: listOf(str),
  },
  ["name", "action"],
);

export const JOBSET_SCHEMA = object(
  {
    apiVersion: enumOf("jobset.x-k8s.io/v1alpha2"),
    kind: enumOf("JobSet"),
    metadata: model(ObjectMeta),
    spec: object(
      {
        replicatedJobs: listOf(
          object(
            { name: str, replicas: int32(0), template: model(JobTemplateSpec) },
            ["name", "template"],
          ),
        ),
        network: object({ enableDNSHostnames: bool, subdomain: str, publishNotReadyAddresses: bool }),
        successPolicy: object(
          { operator: enumOf("All", "Any"), targetReplicatedJobs: listOf(str) },
          ["operator"],
        ),
        failurePolicy: object({ maxRestarts: int32(0), rules: listOf(FAILURE_POLICY_RULE) }),
        startupPolicy: object({ startupPolicyOrder: enumOf("AnyOrder", "InOrder") }, [
          "startupPolicyOrder",
        ]),
      },
      ["replicatedJobs"],
    ),
  },
  ["apiVersion", "kind", "metadata", "spec"],
);

function typeOf(value) {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  if (Number.isInteger(value)) return "integer";
  return typeof value;
}

// Appends "path: problem" strings to `errors`.
function check(schema, value, path, errors) {
  if (schema.model) {
    try {
      new schema.model(value).validate();
    } catch (error) {
      // kubernetes-models reports paths from "data"; make them absolute.
      errors.push(`${path}: ${String(error.message).replaceAll("data/", `${path}/`)}`);
    }
    return;
  }
  const actual = typeOf(value);
  if (actual !== schema.type && !(schema.type === "number" && actual === "integer")) {
    errors.push(`${path}: must be ${schema.type}, is ${actual}`);
    return;
  }
  if (schema.enum && !schema.enum.includes(value)) {
    errors.push(`${path}: must be one of ${schema.enum.join(", ")}, is ${JSON.stringify(value)}`);
  }
  if (schema.pattern && !schema.pattern.test(value)) {
    errors.push(`${path}: must match ${schema.pattern}, is ${JSON.stringify(value)}`);
  }
  if (schema.minimum !== undefined && value < schema.minimum) {
    errors.push(`${path}: must be >= ${schema.minimum}, is ${value}`);
  }
  if (schema.type === "array") {
    value.forEach((item, i) => check(schema.items, item, `${path}/${i}`, errors));
  }
  if (schema.type === "object") {
    for (const key of schema.required) {
      if (!(key in value)) errors.push(`${path}: missing required field '${key}'`);
    }
    for (const [key, item] of Object.entries(value)) {
      const field = schema.properties[key];
      if (!field) {
        errors.push(`${path}: unknown field '${key}' (not in the JobSet v1alpha2 fields typed here)`);
      } else {
        check(field, item, `${path}/${key}`, errors);
      }
    }
  }
}

// The problems of `jobSet` (empty when it is valid).
export function validateJobSet(jobSet) {
  const errors = [];
  check(JOBSET_SCHEMA, jobSet, "JobSet", errors);
  return errors;
}
