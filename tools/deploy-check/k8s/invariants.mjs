// What issue #8 and docs/deploy conventions demand of every rendered
// gorl topology, beyond what a schema can say: security contexts, probes,
// resources, volumes, addresses that match the names Kubernetes will give,
// GPUs only where asked for, the PodMonitor reaching every role.
import { isDeepStrictEqual } from "node:util";

import { describe } from "./validate.mjs";

export const UID = 10001;
export const METRICS_PORT = 9100;
export const HEALTH_PORT = 8080;
export const LEARNER_PORT = 50051;
export const REFINER_PORT = 50052;
export const TLS_DIR = "/run/secrets/gorl";
// What `gorl certs` writes (docs/security.md).
export const TLS_FILES = ["ca.pem", "server.pem", "server.key", "actor-0.pem", "actor-0.key", "token"];
export const CONFIG_FILE = "/etc/gorl/run.textproto";
const ROLES = ["learner", "refiner", "actor"];
const JOB_OF_ROLE = { learner: "gorl-learner", refiner: "gorl-refiner", actor: "gorl-actor" };
const HEALTH_SERVICE = { learner: "gorl.v1.Learner", refiner: "gorl.v1.Refiner" };
const GPU = "nvidia.com/gpu";

// Every pod template of the documents: [{where, labels, spec, owner}].
export function podTemplates(docs) {
  const pods = [];
  for (const doc of docs) {
    if (doc.kind === "Job" || doc.kind === "Deployment") {
      pods.push({
        where: describe(doc),
        labels: doc.spec?.template?.metadata?.labels ?? {},
        spec: doc.spec?.template?.spec ?? {},
        owner: doc,
      });
    } else if (doc.kind === "JobSet") {
      for (const rjob of doc.spec?.replicatedJobs ?? []) {
        const template = rjob.template?.spec?.template;
        pods.push({
          where: `${describe(doc)}/${rjob.name}`,
          labels: template?.metadata?.labels ?? {},
          spec: template?.spec ?? {},
          owner: doc,
          replicatedJob: rjob,
        });
      }
    }
  }
  return pods;
}

function roleOf(pod) {
  return pod.labels["app.kubernetes.io/component"];
}

// The value of --name=value in a container's args (undefined if absent).
export function flag(container, name) {
  const prefix = `--${name}=`;
  const words = [...(container.command ?? []), ...(container.args ?? [])];
  const hit = words.find((w) => w === `--${name}` || w.startsWith(prefix));
  if (hit === undefined) return undefined;
  return hit === `--${name}` ? true : hit.slice(prefix.length);
}

function volumeAt(pod, container, path) {
  const mount = (container.volumeMounts ?? []).find((m) => m.mountPath === path);
  if (!mount) return {};
  return { mount, volume: (pod.spec.volumes ?? []).find((v) => v.name === mount.name) };
}

function selectorMatches(matchLabels, labels) {
  return Object.entries(matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

function labelSelectorMatches(selector, labels) {
  if (!selectorMatches(selector?.matchLabels, labels)) return false;
  return (selector?.matchExpressions ?? []).every((e) => {
    if (e.operator === "In") return e.values.includes(labels[e.key]);
    if (e.operator === "NotIn") return !e.values.includes(labels[e.key]);
    if (e.operator === "Exists") return e.key in labels;
    if (e.operator === "DoesNotExist") return !(e.key in labels);
    return false;
  });
}

function checkContainer(pod, c, errors) {
  const at = `${pod.where}: container ${c.name}`;
  const sc = c.securityContext;
  if (!sc) {
    errors.push(`${at}: no securityContext`);
  } else {
    const want = {
      runAsNonRoot: true,
      runAsUser: UID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    };
    for (const [k, v] of Object.entries(want)) {
      if (sc[k] !== v) errors.push(`${at}: securityContext.${k} is ${JSON.stringify(sc[k])}, want ${v}`);
    }
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) errors.push(`${at}: capabilities do not drop ALL`);
    if ((sc.capabilities?.add ?? []).length) errors.push(`${at}: adds capabilities`);
    if (sc.privileged) errors.push(`${at}: privileged`);
    if (sc.seccompProfile?.type !== "RuntimeDefault") errors.push(`${at}: seccompProfile is not RuntimeDefault`);
  }
  for (const part of ["requests", "limits"]) {
    for (const resource of ["cpu", "memory"]) {
      if (c.resources?.[part]?.[resource] === undefined) errors.push(`${at}: no resources.${part}.${resource}`);
    }
  }
  const tmp = volumeAt(pod, c, "/tmp");
  if (!tmp.volume?.emptyDir) errors.push(`${at}: /tmp is not an emptyDir (the root filesystem is read-only)`);
  const tls = volumeAt(pod, c, TLS_DIR);
  if (tls.volume?.secret?.secretName !== "gorl-tls" || tls.mount?.readOnly !== true) {
    errors.push(`${at}: ${TLS_DIR} is not the gorl-tls Secret, mounted read-only`);
  } else if (tls.volume.secret.defaultMode !== 0o400) {
    errors.push(`${at}: gorl-tls defaultMode is ${tls.volume.secret.defaultMode}, want 0400 (256)`);
  }
  for (const name of ["tls_ca", "tls_cert", "tls_key", "token_file"]) {
    const value = flag(c, name);
    if (value === undefined) {
      errors.push(`${at}: no --${name}`);
    } else if (!TLS_FILES.some((f) => value === `${TLS_DIR}/${f}`)) {
      errors.push(`${at}: --${name}=${value} is not one of the files gorl certs writes under ${TLS_DIR}`);
    }
  }
  if (flag(c, "insecure") !== undefined) errors.push(`${at}: --insecure`);
  if (flag(c, "metrics_port") !== String(METRICS_PORT)) errors.push(`${at}: --metrics_port is not ${METRICS_PORT}`);
  const metrics = (c.ports ?? []).find((p) => p.name === "metrics");
  if (metrics?.containerPort !== METRICS_PORT) errors.push(`${at}: no port named metrics on ${METRICS_PORT}`);
}

function checkRole(pod, c, role, errors) {
  const at = `${pod.where}: container ${c.name}`;
  // The image's ENTRYPOINT is gorl: no shell, the role is the first word.
  if (c.command !== undefined) errors.push(`${at}: overrides the image's entrypoint (gorl)`);
  if (c.args?.[0] !== role) errors.push(`${at}: args do not start with the command ${role}`);
  if (role === "learner" || role === "refiner") {
    const want = { port: HEALTH_PORT, service: HEALTH_SERVICE[role] };
    for (const probe of ["readinessProbe", "livenessProbe"]) {
      if (!isDeepStrictEqual(c[probe]?.grpc, want)) {
        errors.push(`${at}: ${probe} is not gRPC ${JSON.stringify(want)}`);
      }
    }
    if (flag(c, "health_port") !== String(HEALTH_PORT)) errors.push(`${at}: --health_port is not ${HEALTH_PORT}`);
    if (flag(c, "mtls") !== true) errors.push(`${at}: no --mtls`);
  }
  if (role === "actor") {
    const command = c.livenessProbe?.exec?.command ?? [];
    if (!isDeepStrictEqual(command.slice(0, 4), ["gorl", "health", "--metrics", `localhost:${METRICS_PORT}`])) {
      errors.push(`${at}: livenessProbe is not exec gorl health --metrics localhost:${METRICS_PORT}`);
    }
    if (flag(c, "tls_server_name") !== "learner") errors.push(`${at}: --tls_server_name is not learner`);
  }
  if (role === "learner" || role === "actor") {
    const config = volumeAt(pod, c, "/etc/gorl");
    if (config.volume?.configMap?.name !== "gorl-config" || config.mount?.readOnly !== true) {
      errors.push(`${at}: /etc/gorl is not the gorl-config ConfigMap, mounted read-only`);
    }
    const assets = volumeAt(pod, c, "/assets");
    if (!assets.volume || assets.mount?.readOnly !== true) errors.push(`${at}: no read-only /assets volume`);
    if (assets.volume?.persistentVolumeClaim && assets.volume.persistentVolumeClaim.readOnly !== true) {
      errors.push(`${at}: the /assets claim is not readOnly`);
    }
    if (!(c.env ?? []).some((e) => e.name === "GORL_ASSETS" && e.value === "/assets")) {
      errors.push(`${at}: no GORL_ASSETS=/assets`);
    }
  }
  if (role === "actor" && flag(c, "config") !== CONFIG_FILE) errors.push(`${at}: --config is not ${CONFIG_FILE}`);
  if (role === "learner") {
    const runs = volumeAt(pod, c, "/runs");
    if (runs.volume?.persistentVolumeClaim?.claimName !== "gorl-runs") {
      errors.push(`${at}: /runs is not the gorl-runs claim`);
    }
    // One command for the first start and every restart: the run is
    // created in --run_dir, or resumed from its checkpoint there.
    const runDir = flag(c, "run_dir");
    if (typeof runDir !== "string" || !runDir.startsWith("/runs/")) {
      errors.push(`${at}: --run_dir (${runDir}) is not under /runs`);
    }
    if (flag(c, "resume_if_present") !== true) errors.push(`${at}: no --resume_if_present (a restart would not resume)`);
    if (flag(c, "config") !== CONFIG_FILE) errors.push(`${at}: --config is not ${CONFIG_FILE}`);
    for (const name of ["resume", "overwrite"]) {
      if (flag(c, name) !== undefined) errors.push(`${at}: --${name} (the same command must start and resume the run)`);
    }
    if (flag(c, "tls_server_name") !== "refiner") errors.push(`${at}: --tls_server_name is not refiner`);
  }
}

function checkJobSet(js, errors) {
  const at = describe(js);
  const spec = js.spec ?? {};
  const names = (spec.replicatedJobs ?? []).map((r) => r.name);
  if (!isDeepStrictEqual(names, ["refiner", "learner", "actors"])) {
    errors.push(`${at}: replicatedJobs are ${names.join(", ")}, want refiner, learner, actors (start order)`);
  }
  if (spec.startupPolicy?.startupPolicyOrder !== "InOrder") errors.push(`${at}: startupPolicy is not InOrder`);
  if (spec.network?.enableDNSHostnames !== true) errors.push(`${at}: network.enableDNSHostnames is not true`);
  if (!isDeepStrictEqual(spec.successPolicy, { operator: "All", targetReplicatedJobs: ["learner"] })) {
    errors.push(`${at}: successPolicy is not {operator: All, targetReplicatedJobs: [learner]}`);
  }
  const policy = spec.failurePolicy ?? {};
  if (!(policy.maxRestarts > 0)) errors.push(`${at}: failurePolicy.maxRestarts is not positive`);
  const rules = policy.rules ?? [];
  const targets = (rule, job) => !rule.targetReplicatedJobs?.length || rule.targetReplicatedJobs.includes(job);
  const catchAll = (rule) => !rule.onJobFailureReasons?.length;
  for (const job of ["actors", "refiner"]) {
    // Every rule that can see this job's failure must recreate it alone,
    // without counting, and one of them must match any reason (else the
    // default RestartJobSet would restart everything).
    const seen = rules.filter((r) => targets(r, job));
    const bad = seen.filter((r) => r.action !== "RestartJobAndIgnoreMaxRestarts");
    if (bad.length) errors.push(`${at}: a failed ${job} job meets rule ${bad[0].name} (${bad[0].action})`);
    if (!seen.some(catchAll)) errors.push(`${at}: no rule catches every failure of ${job} (default: RestartJobSet)`);
  }
  const learnerRules = rules.filter((r) => targets(r, "learner"));
  if (!learnerRules.some((r) => r.action === "RestartJob" || r.action === "RestartJobSet")) {
    errors.push(`${at}: no rule restarts a failed learner within maxRestarts`);
  }
  if (learnerRules.some((r) => r.action.endsWith("IgnoreMaxRestarts"))) {
    errors.push(`${at}: a learner failure must count against maxRestarts`);
  }
}

// Addresses the pods dial must be names Kubernetes will give.
function checkAddresses(topology, docs, byRole, errors) {
  const learner = byRole.learner?.container;
  const actor = byRole.actor?.container;
  let learnerHost;
  let refinerHost;
  if (topology === "jobset") {
    const js = docs.find((d) => d.kind === "JobSet");
    const subdomain = js.spec?.network?.subdomain || js.metadata.name;
    learnerHost = `${js.metadata.name}-learner-0-0.${subdomain}`;
    refinerHost = `${js.metadata.name}-refiner-0-0.${subdomain}`;
  } else {
    const service = (name, role, headless) => {
      const svc = docs.find((d) => d.kind === "Service" && d.metadata.name === name);
      const pod = byRole[role];
      if (!svc) return errors.push(`no Service ${name}`);
      if (!pod || !selectorMatches(svc.spec?.selector, pod.pod.labels)) {
        errors.push(`Service/${name}: its selector does not select the ${role} pods`);
      }
      if (headless && svc.spec?.clusterIP !== "None") errors.push(`Service/${name}: not headless`);
      for (const port of svc.spec?.ports ?? []) {
        const named = (pod?.container.ports ?? []).find((p) => p.name === port.targetPort);
        if (!named) errors.push(`Service/${name}: targetPort ${port.targetPort} is no port of the ${role}`);
        else if (named.containerPort !== port.port) errors.push(`Service/${name}: port ${port.port} != container ${named.containerPort}`);
      }
    };
    service("gorl-learner", "learner", true);
    service("gorl-refiner", "refiner", false);
    learnerHost = "gorl-learner";
    refinerHost = "gorl-refiner";
    for (const d of docs.filter((x) => x.kind === "Deployment")) {
      if (!selectorMatches(d.spec?.selector?.matchLabels, d.spec?.template?.metadata?.labels ?? {})) {
        errors.push(`${describe(d)}: selector does not match its pod template`);
      }
    }
  }
  if (flag(actor ?? {}, "learner") !== `${learnerHost}:${LEARNER_PORT}`) {
    errors.push(`actor: --learner is ${flag(actor ?? {}, "learner")}, want ${learnerHost}:${LEARNER_PORT}`);
  }
  if (flag(learner ?? {}, "refiner") !== `${refinerHost}:${REFINER_PORT}`) {
    errors.push(`learner: --refiner is ${flag(learner ?? {}, "refiner")}, want ${refinerHost}:${REFINER_PORT}`);
  }
  for (const [role, port] of [["learner", LEARNER_PORT], ["refiner", REFINER_PORT]]) {
    const c = byRole[role]?.container;
    if (c && flag(c, "listen") !== `0.0.0.0:${port}`) errors.push(`${role}: --listen is not 0.0.0.0:${port}`);
  }
}

function checkPodMonitor(docs, pods, errors) {
  const monitors = docs.filter((d) => d.kind === "PodMonitor");
  if (monitors.length !== 1) return errors.push(`${monitors.length} PodMonitors, want 1`);
  const pm = monitors[0].spec ?? {};
  const port = pm.podMetricsEndpoints?.[0]?.port;
  for (const pod of pods) {
    if (!labelSelectorMatches(pm.selector, pod.labels)) {
      errors.push(`${pod.where}: the PodMonitor does not select it`);
      continue;
    }
    const job = pod.labels[pm.jobLabel];
    const want = JOB_OF_ROLE[roleOf(pod)];
    if (job !== want) errors.push(`${pod.where}: Prometheus job (label ${pm.jobLabel}) is ${job}, want ${want}`);
    const exposed = pod.spec.containers?.some((c) => (c.ports ?? []).some((p) => p.name === port));
    if (!exposed) errors.push(`${pod.where}: no container port named ${port} for the PodMonitor`);
  }
}

// `render`: {name, topology: "jobset"|"plain"|"addon", gpu}; `docs`: its
// documents. Returns error strings.
export function checkRender(render, docs) {
  const errors = [];
  for (const doc of docs) {
    if (doc.metadata?.labels?.["app.kubernetes.io/part-of"] !== "gorl") {
      errors.push(`${describe(doc)}: no label app.kubernetes.io/part-of=gorl`);
    }
  }
  // GPUs: only in a gpu overlay, and there exactly one, on the learner.
  const gpuContainers = [];
  const pods = podTemplates(docs);
  const byRole = {};
  for (const pod of pods) {
    const role = roleOf(pod);
    if (!ROLES.includes(role)) errors.push(`${pod.where}: app.kubernetes.io/component ${role} is no gorl role`);
    if (pod.spec.automountServiceAccountToken !== false) errors.push(`${pod.where}: mounts a service-account token`);
    const psc = pod.spec.securityContext ?? {};
    if (psc.runAsNonRoot !== true || psc.runAsUser !== UID || psc.fsGroup !== UID) {
      errors.push(`${pod.where}: pod securityContext lacks runAsNonRoot, runAsUser/fsGroup ${UID}`);
    }
    if (psc.seccompProfile?.type !== "RuntimeDefault") errors.push(`${pod.where}: pod seccompProfile is not RuntimeDefault`);
    const containers = [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])];
    for (const c of containers) {
      checkContainer(pod, c, errors);
      if (c.resources?.limits?.[GPU] !== undefined || c.resources?.requests?.[GPU] !== undefined) {
        gpuContainers.push({ pod, c });
      }
    }
    const main = pod.spec.containers?.[0];
    if (main && ROLES.includes(role)) {
      checkRole(pod, main, role, errors);
      if (byRole[role]) errors.push(`${pod.where}: a second ${role} pod template`);
      byRole[role] = { pod, container: main };
    }
  }
  if (render.gpu) {
    const onLearner = gpuContainers.filter(({ pod }) => roleOf(pod) === "learner");
    if (gpuContainers.length !== 1 || onLearner.length !== 1) {
      errors.push(`gpu overlay: ${GPU} on ${gpuContainers.length} containers, want the learner only`);
    } else if (String(onLearner[0].c.resources.limits?.[GPU]) !== "1") {
      errors.push(`gpu overlay: the learner's ${GPU} limit is not 1`);
    }
  } else if (JSON.stringify(docs).includes(GPU)) {
    errors.push(`${render.name}: mentions ${GPU} outside a gpu overlay`);
  }
  if (render.topology === "addon") return errors;

  for (const role of ROLES) if (!byRole[role]) errors.push(`no ${role} pod template`);
  checkAddresses(render.topology, docs, byRole, errors);
  checkPodMonitor(docs, pods, errors);
  for (const js of docs.filter((d) => d.kind === "JobSet")) checkJobSet(js, errors);
  if (render.topology === "jobset" && !docs.some((d) => d.kind === "JobSet")) errors.push("no JobSet");
  if (render.topology === "plain" && docs.some((d) => d.kind === "JobSet")) errors.push("a JobSet in the plain topology");
  if (!docs.some((d) => d.kind === "PersistentVolumeClaim" && d.metadata.name === "gorl-runs")) {
    errors.push("no gorl-runs PersistentVolumeClaim");
  }
  return errors;
}
