//! The field tables of the protobuf decoder: for each kind kubectl sends as protobuf, the
//! field numbers, JSON names and types of the `generated.proto` messages it sets.

/// How one field is decoded.
#[derive(Clone, Copy)]
pub(super) enum T {
    Str,
    Int,
    Bool,
    Msg(&'static [Field]),
    MapStr,
    MapBytes,
    MapQty,
    Time,
    IntOrStr,
}

/// A field: number, JSON name, type, repeated.
pub(super) type Field = (u32, &'static str, T, bool);

const BOUND_OBJECT_REF: &[Field] = &[
    (1, "kind", T::Str, false),
    (2, "apiVersion", T::Str, false),
    (3, "name", T::Str, false),
    (4, "uid", T::Str, false),
];
const TOKEN_REQUEST_SPEC: &[Field] = &[
    (1, "audiences", T::Str, true),
    (3, "boundObjectRef", T::Msg(BOUND_OBJECT_REF), false),
    (4, "expirationSeconds", T::Int, false),
];

const OWNER_REF: &[Field] = &[
    (1, "kind", T::Str, false),
    (3, "name", T::Str, false),
    (4, "uid", T::Str, false),
    (5, "apiVersion", T::Str, false),
    (6, "controller", T::Bool, false),
    (7, "blockOwnerDeletion", T::Bool, false),
];
const META: &[Field] = &[
    (1, "name", T::Str, false),
    (2, "generateName", T::Str, false),
    (3, "namespace", T::Str, false),
    (5, "uid", T::Str, false),
    (6, "resourceVersion", T::Str, false),
    (8, "creationTimestamp", T::Time, false),
    (11, "labels", T::MapStr, false),
    (12, "annotations", T::MapStr, false),
    (13, "ownerReferences", T::Msg(OWNER_REF), true),
    (14, "finalizers", T::Str, true),
];
const NAME_REF: &[Field] = &[(1, "name", T::Str, false)];
const SELECTOR_REQ: &[Field] = &[
    (1, "key", T::Str, false),
    (2, "operator", T::Str, false),
    (3, "values", T::Str, true),
];
const SELECTOR: &[Field] = &[
    (1, "matchLabels", T::MapStr, false),
    (2, "matchExpressions", T::Msg(SELECTOR_REQ), true),
];
const PORT: &[Field] = &[
    (1, "name", T::Str, false),
    (2, "hostPort", T::Int, false),
    (3, "containerPort", T::Int, false),
    (4, "protocol", T::Str, false),
    (5, "hostIP", T::Str, false),
];
const ENV: &[Field] = &[(1, "name", T::Str, false), (2, "value", T::Str, false)];
const RESOURCES: &[Field] = &[
    (1, "limits", T::MapQty, false),
    (2, "requests", T::MapQty, false),
];
const MOUNT: &[Field] = &[
    (1, "name", T::Str, false),
    (2, "readOnly", T::Bool, false),
    (3, "mountPath", T::Str, false),
    (4, "subPath", T::Str, false),
];
const CONTAINER: &[Field] = &[
    (1, "name", T::Str, false),
    (2, "image", T::Str, false),
    (3, "command", T::Str, true),
    (4, "args", T::Str, true),
    (5, "workingDir", T::Str, false),
    (6, "ports", T::Msg(PORT), true),
    (7, "env", T::Msg(ENV), true),
    (8, "resources", T::Msg(RESOURCES), false),
    (9, "volumeMounts", T::Msg(MOUNT), true),
    (13, "terminationMessagePath", T::Str, false),
    (14, "imagePullPolicy", T::Str, false),
    (16, "stdin", T::Bool, false),
    (17, "stdinOnce", T::Bool, false),
    (18, "tty", T::Bool, false),
    (20, "terminationMessagePolicy", T::Str, false),
];
const POD_SPEC: &[Field] = &[
    (2, "containers", T::Msg(CONTAINER), true),
    (3, "restartPolicy", T::Str, false),
    (4, "terminationGracePeriodSeconds", T::Int, false),
    (5, "activeDeadlineSeconds", T::Int, false),
    (6, "dnsPolicy", T::Str, false),
    (7, "nodeSelector", T::MapStr, false),
    (8, "serviceAccountName", T::Str, false),
    (10, "nodeName", T::Str, false),
    (11, "hostNetwork", T::Bool, false),
    (15, "imagePullSecrets", T::Msg(NAME_REF), true),
    (16, "hostname", T::Str, false),
    (17, "subdomain", T::Str, false),
    (19, "schedulerName", T::Str, false),
    (20, "initContainers", T::Msg(CONTAINER), true),
];
const TEMPLATE: &[Field] = &[
    (1, "metadata", T::Msg(META), false),
    (2, "spec", T::Msg(POD_SPEC), false),
];
const JOB_SPEC: &[Field] = &[
    (1, "parallelism", T::Int, false),
    (2, "completions", T::Int, false),
    (3, "activeDeadlineSeconds", T::Int, false),
    (4, "selector", T::Msg(SELECTOR), false),
    (5, "manualSelector", T::Bool, false),
    (6, "template", T::Msg(TEMPLATE), false),
    (7, "backoffLimit", T::Int, false),
    (8, "ttlSecondsAfterFinished", T::Int, false),
    (9, "completionMode", T::Str, false),
    (10, "suspend", T::Bool, false),
];
const JOB_TEMPLATE: &[Field] = &[
    (1, "metadata", T::Msg(META), false),
    (2, "spec", T::Msg(JOB_SPEC), false),
];
const CRONJOB_SPEC: &[Field] = &[
    (1, "schedule", T::Str, false),
    (2, "startingDeadlineSeconds", T::Int, false),
    (3, "concurrencyPolicy", T::Str, false),
    (4, "suspend", T::Bool, false),
    (5, "jobTemplate", T::Msg(JOB_TEMPLATE), false),
    (6, "successfulJobsHistoryLimit", T::Int, false),
    (7, "failedJobsHistoryLimit", T::Int, false),
    (8, "timeZone", T::Str, false),
];
const ROLLING: &[Field] = &[
    (1, "maxUnavailable", T::IntOrStr, false),
    (2, "maxSurge", T::IntOrStr, false),
];
const STRATEGY: &[Field] = &[
    (1, "type", T::Str, false),
    (2, "rollingUpdate", T::Msg(ROLLING), false),
];
const DEPLOYMENT_SPEC: &[Field] = &[
    (1, "replicas", T::Int, false),
    (2, "selector", T::Msg(SELECTOR), false),
    (3, "template", T::Msg(TEMPLATE), false),
    (4, "strategy", T::Msg(STRATEGY), false),
    (5, "minReadySeconds", T::Int, false),
    (6, "revisionHistoryLimit", T::Int, false),
    (7, "paused", T::Bool, false),
    (9, "progressDeadlineSeconds", T::Int, false),
];
const NS_SPEC: &[Field] = &[(1, "finalizers", T::Str, true)];

pub(super) fn kind_schema(kind: &str) -> Option<&'static [Field]> {
    const fn with_spec(spec: &'static [Field]) -> [Field; 2] {
        [
            (1, "metadata", T::Msg(META), false),
            (2, "spec", T::Msg(spec), false),
        ]
    }
    static NAMESPACE: [Field; 2] = with_spec(NS_SPEC);
    static JOB: [Field; 2] = with_spec(JOB_SPEC);
    static CRONJOB: [Field; 2] = with_spec(CRONJOB_SPEC);
    static DEPLOYMENT: [Field; 2] = with_spec(DEPLOYMENT_SPEC);
    static POD: [Field; 2] = with_spec(POD_SPEC);
    static CONFIGMAP: [Field; 4] = [
        (1, "metadata", T::Msg(META), false),
        (2, "data", T::MapStr, false),
        (3, "binaryData", T::MapBytes, false),
        (4, "immutable", T::Bool, false),
    ];
    static SECRET: [Field; 5] = [
        (1, "metadata", T::Msg(META), false),
        (2, "data", T::MapBytes, false),
        (3, "type", T::Str, false),
        (4, "stringData", T::MapStr, false),
        (5, "immutable", T::Bool, false),
    ];
    static SERVICE_ACCOUNT: [Field; 3] = [
        (1, "metadata", T::Msg(META), false),
        (3, "imagePullSecrets", T::Msg(NAME_REF), true),
        (4, "automountServiceAccountToken", T::Bool, false),
    ];
    // `kubectl create token` (k8s.io/api/authentication/v1).
    static TOKEN_REQUEST: [Field; 2] = with_spec(TOKEN_REQUEST_SPEC);
    Some(match kind {
        "Namespace" => &NAMESPACE,
        "Job" => &JOB,
        "CronJob" => &CRONJOB,
        "Deployment" => &DEPLOYMENT,
        "Pod" => &POD,
        "ConfigMap" => &CONFIGMAP,
        "Secret" => &SECRET,
        "ServiceAccount" => &SERVICE_ACCOUNT,
        "TokenRequest" => &TOKEN_REQUEST,
        _ => return None,
    })
}
