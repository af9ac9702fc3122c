//! Where an executing node's AWS credentials come from, checked before the
//! first call.
//!
//! In Kubernetes, a pod whose IAM role for service accounts (IRSA) or EKS
//! Pod Identity is misconfigured gets no credentials of its own, and the
//! SDK's default chain falls back to the instance metadata service: the
//! node's EC2 instance role, shared by every pod on the node and never
//! meant to promote databases or move traffic. An executing node refuses
//! to start that way unless its node file says so
//! (`aws.allow_other_credentials: true`).

use std::collections::HashMap;

/// The environment variables IRSA injects into a pod of an annotated
/// ServiceAccount.
pub const IRSA_VARS: [&str; 2] = ["AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"];

/// The environment variable EKS Pod Identity injects.
pub const POD_IDENTITY_VAR: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";

/// Set in every pod by Kubernetes: the node runs in a cluster.
pub const KUBERNETES_VAR: &str = "KUBERNETES_SERVICE_HOST";

/// Checks that an executing node running in Kubernetes (`env` holds
/// [`KUBERNETES_VAR`]) gets its AWS credentials from IRSA (both
/// [`IRSA_VARS`]) or EKS Pod Identity ([`POD_IDENTITY_VAR`]), not from
/// whatever the default chain finds next (static keys, a profile, the
/// instance metadata service). Outside Kubernetes, or with
/// `allow_other_credentials`, any source is accepted.
///
/// # Errors
///
/// What is missing and how to fix the ServiceAccount.
pub fn check_pod_credentials(
    env: &HashMap<String, String>,
    allow_other_credentials: bool,
) -> Result<(), String> {
    let set = |name: &str| env.get(name).is_some_and(|v| !v.trim().is_empty());
    if allow_other_credentials || !set(KUBERNETES_VAR) || set(POD_IDENTITY_VAR) {
        return Ok(());
    }
    let missing: Vec<&str> = IRSA_VARS.into_iter().filter(|v| !set(v)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let what = match missing.len() {
        1 => format!("{} is not set (IRSA is half configured)", missing[0]),
        _ => format!(
            "neither IRSA ({}) nor EKS Pod Identity ({POD_IDENTITY_VAR}) is set",
            IRSA_VARS.join(" + ")
        ),
    };
    Err(format!(
        "this executing node runs in Kubernetes but has no AWS role of its own: {what}, \
         so its credentials would come from the node's EC2 instance role. Annotate its \
         ServiceAccount (drctl in namespace drctl) with \
         eks.amazonaws.com/role-arn: arn:aws:iam::<account>:role/<executor role> and \
         restart the pod (or create an EKS Pod Identity association for it); to use \
         another source on purpose, set aws.allow_other_credentials: true in the node file"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const K8S: (&str, &str) = (KUBERNETES_VAR, "10.100.0.1");

    #[test]
    fn a_pod_without_a_role_of_its_own_is_refused_saying_how_to_fix_it() {
        let err =
            check_pod_credentials(&env(&[K8S, ("AWS_REGION", "us-east-1")]), false).unwrap_err();
        for part in [
            "AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "EC2 instance role",
            "eks.amazonaws.com/role-arn",
            "aws.allow_other_credentials",
        ] {
            assert!(err.contains(part), "{part} missing: {err}");
        }
        // Static keys in the pod are refused too: not the pod's role.
        let keys = env(&[
            K8S,
            ("AWS_ACCESS_KEY_ID", "x"),
            ("AWS_SECRET_ACCESS_KEY", "y"),
        ]);
        assert!(check_pod_credentials(&keys, false).is_err());
    }

    #[test]
    fn half_configured_irsa_names_the_missing_variable() {
        let err =
            check_pod_credentials(&env(&[K8S, ("AWS_ROLE_ARN", "arn:x")]), false).unwrap_err();
        assert!(
            err.contains("AWS_WEB_IDENTITY_TOKEN_FILE is not set"),
            "{err}"
        );
        let empty = env(&[
            K8S,
            ("AWS_ROLE_ARN", " "),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
        ]);
        let err = check_pod_credentials(&empty, false).unwrap_err();
        assert!(err.contains("AWS_ROLE_ARN is not set"), "{err}");
    }

    #[test]
    fn irsa_pod_identity_outside_kubernetes_or_an_explicit_allowance_pass() {
        let irsa = env(&[
            K8S,
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/token"),
        ]);
        assert_eq!(check_pod_credentials(&irsa, false), Ok(()));
        let pod_identity = env(&[
            K8S,
            (POD_IDENTITY_VAR, "http://169.254.170.23/v1/credentials"),
        ]);
        assert_eq!(check_pod_credentials(&pod_identity, false), Ok(()));
        assert_eq!(check_pod_credentials(&env(&[]), false), Ok(()));
        assert_eq!(check_pod_credentials(&env(&[K8S]), true), Ok(()));
    }
}
