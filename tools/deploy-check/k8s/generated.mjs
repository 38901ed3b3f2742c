// The two files of deploy/k8s/common that are made from other files of the
// repository, so that they cannot drift from them:
//   prometheusrule.yaml  from deploy/prometheus/rules.yml (the same groups);
//   run.textproto        from configs/local.textproto (the tested preset).
// render_k8s_generated.mjs writes them; check_k8s.mjs fails when the
// committed files differ from what these functions return.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const RULES_YML = join(REPO_ROOT, "deploy/prometheus/rules.yml");
export const LOCAL_PRESET = join(REPO_ROOT, "configs/local.textproto");
export const COMMON_DIR = join(REPO_ROOT, "deploy/k8s/common");
export const PROMETHEUS_RULE_FILE = join(COMMON_DIR, "prometheusrule.yaml");
export const RUN_CONFIG_FILE = join(COMMON_DIR, "run.textproto");

const RENDER_COMMAND = "node tools/deploy-check/render_k8s_generated.mjs";

// The alert groups of rules.yml, parsed.
export function rulesGroups() {
  const rules = YAML.parse(readFileSync(RULES_YML, "utf8"));
  if (!rules || !Array.isArray(rules.groups)) {
    throw new Error(`${RULES_YML}: no 'groups' list`);
  }
  return rules.groups;
}

export function renderPrometheusRule() {
  const rule = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: {
      name: "gorl",
      labels: { "app.kubernetes.io/part-of": "gorl" },
    },
    spec: { groups: rulesGroups() },
  };
  return (
    "# GENERATED from deploy/prometheus/rules.yml by\n" +
    `# ${RENDER_COMMAND}; do not edit.\n` +
    "# The alert rules for kube-prometheus users: the same groups as\n" +
    "# rules.yml (ctest deploy_k8s fails when they differ).\n" +
    YAML.stringify(rule, { lineWidth: 0 })
  );
}

export function renderRunConfig() {
  return (
    "# GENERATED from configs/local.textproto by\n" +
    `# ${RENDER_COMMAND}; do not edit.\n` +
    "# /etc/gorl/run.textproto of the learner and the actors (gorl-config\n" +
    "# ConfigMap). To train with other settings, replace the ConfigMap in your\n" +
    "# own overlay (deploy/k8s/README.md).\n" +
    readFileSync(LOCAL_PRESET, "utf8")
  );
}

export const GENERATED = [
  { file: PROMETHEUS_RULE_FILE, render: renderPrometheusRule },
  { file: RUN_CONFIG_FILE, render: renderRunConfig },
];

export { RENDER_COMMAND };
