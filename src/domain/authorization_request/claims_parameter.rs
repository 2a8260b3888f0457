//! The `claims` request parameter (OIDC Core §5.5), reduced to what we can
//! release.

use super::ClaimsRequest;
use crate::domain::claims::{ACR_DELEGATED, PROFILE_CLAIMS};

pub(super) enum ClaimsError {
    Malformed(String),
    Unsatisfiable(String),
}

/// Claims the `claims` parameter can ask for by name (OIDC Core §5.5):
/// `sub`, `auth_time` and the profile claims. Requests for other claims are
/// ignored, as §5.5 requires, except an essential `acr` whose values do not
/// include ours ([`ACR_DELEGATED`]): that cannot be met, and §5.5.1.1 makes
/// it a failed authentication.
pub(super) fn parse_claims(json: &str) -> Result<ClaimsRequest, ClaimsError> {
    use serde_json::Value;
    let malformed = |d: &str| ClaimsError::Malformed(d.to_string());
    let value: Value = serde_json::from_str(json).map_err(|_| malformed("claims is not valid JSON"))?;
    let Value::Object(members) = value else { return Err(malformed("claims must be a JSON object")) };
    let mut request = ClaimsRequest::default();
    for (target, claims) in members {
        let for_id_token = target == "id_token";
        let list = match target.as_str() {
            "userinfo" => &mut request.userinfo,
            "id_token" => &mut request.id_token,
            _ => continue,
        };
        let Value::Object(claims) = claims else { return Err(malformed("claims members must be JSON objects")) };
        for (name, spec) in claims {
            let essential = match &spec {
                Value::Null => false,
                Value::Object(o) => match o.get("essential") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(malformed("essential must be a boolean")),
                },
                _ => return Err(malformed("each requested claim must be null or a JSON object")),
            };
            if name == "sub" && for_id_token {
                match spec.get("value") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(sub)) if sub.len() <= 256 => request.sub = Some(sub.clone()),
                    Some(_) => return Err(malformed("the requested sub value must be a string")),
                }
            }
            if name == "acr" && essential && for_id_token && !acr_met(&spec)? {
                return Err(ClaimsError::Unsatisfiable(format!(
                    "an essential acr was requested, and the only authentication context class is {ACR_DELEGATED}"
                )));
            }
            let known = name == "sub" || name == "auth_time" || PROFILE_CLAIMS.contains(&name.as_str());
            if known && !list.contains(&name) {
                list.push(name);
            }
        }
    }
    Ok(request)
}

/// Whether our `acr` meets the request `spec` for it: no `value` or `values`
/// (any class will do), or ours among them.
fn acr_met(spec: &serde_json::Value) -> Result<bool, ClaimsError> {
    use serde_json::Value;
    let malformed = || ClaimsError::Malformed("acr value and values must be strings".into());
    let value = match spec.get("value") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => Some(v.as_str() == ACR_DELEGATED),
        Some(_) => return Err(malformed()),
    };
    let values = match spec.get("values") {
        None | Some(Value::Null) => None,
        Some(Value::Array(vs)) => {
            let mut met = false;
            for v in vs {
                met |= v.as_str().ok_or_else(malformed)? == ACR_DELEGATED;
            }
            Some(met)
        }
        Some(_) => return Err(malformed()),
    };
    Ok(value.unwrap_or(true) && values.unwrap_or(true))
}
