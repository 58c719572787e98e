//! What dstack 0.22.5 added to the config models (spec/delta-0.22.5.md §1–§5): the `daytona`,
//! `lium` and `seeweb` types, gcp `tpu` and `subnetworks`, hotaisle `bare_metal`, oci
//! `experimental_instance_types`, and their rules and messages.

use dstack_core::config::backends::*;
use dstack_core::config::load::from_json;
use dstack_core::config::{BackendConfigWithCreds, LoadedConfig, load_str};
use dstack_core::yaml::{Diagnostic, Severity};
use serde_json::json;

fn accept(text: &str) -> LoadedConfig {
    match load_str(text, "config.yml") {
        Ok(config) => config,
        Err(report) => panic!("refused:\n{}", report.render()),
    }
}

fn wrap(text: &str) -> String {
    format!("projects:\n- name: main\n  backends:\n  - {}", text.trim_end().replace('\n', "\n    "))
}

fn backend(text: &str) -> BackendConfigWithCreds {
    accept(&wrap(text)).projects[0].backends.as_ref().unwrap()[0].config.clone()
}

/// The errors of a refused backend entry, as `line:column: path: message`.
fn backend_errors(text: &str) -> Vec<String> {
    match load_str(&wrap(text), "config.yml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(report) => report.errors().map(Diagnostic::to_string).collect(),
    }
}

/// The warnings of an accepted backend entry, as `line:column: path: message`.
fn backend_warnings(text: &str) -> Vec<String> {
    accept(&wrap(text))
        .warnings
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(Diagnostic::to_string)
        .collect()
}

const REFUSED_LATER: &str = " (the server will refuse this backend when it applies the config)";

#[test]
fn daytona_parses_with_or_without_the_creds_type() {
    let config = backend("type: daytona\nregions: [earth, us]\ncreds: {api_key: dtn_key}");
    assert_eq!(config.backend_type(), BackendType::Daytona);
    let BackendConfigWithCreds::Daytona(daytona) = &config else { panic!("{config:?}") };
    assert_eq!(daytona.regions.as_deref().unwrap(), ["earth", "us"]);
    assert_eq!(daytona.creds.api_key.expose(), "dtn_key");
    // The stored forms: `config` without creds, `auth` with them (§2.1).
    assert_eq!(
        serde_json::to_value(&config).unwrap(),
        json!({"type": "daytona", "regions": ["earth", "us"],
               "creds": {"type": "api_key", "api_key": "dtn_key"}})
    );
    assert_eq!(config.without_creds(), json!({"type": "daytona", "regions": ["earth", "us"]}));
    let config = backend("type: daytona\ncreds: {type: api_key, api_key: 12345}");
    let BackendConfigWithCreds::Daytona(daytona) = &config else { panic!() };
    assert_eq!(daytona.creds.api_key.expose(), "12345");
    assert_eq!(config.without_creds(), json!({"type": "daytona", "regions": null}));
}

#[test]
fn daytona_and_lium_refuse_an_empty_api_key_at_parse_time() {
    for kind in ["daytona", "lium"] {
        assert_eq!(
            backend_errors(&format!("type: {kind}\ncreds: {{api_key: ''}}")),
            [
                "5:22: projects[0].backends[0].creds.api_key: String should have at least 1 character"
            ],
            "{kind}"
        );
        // The API form has the same rule, at the same field.
        let errors = from_json::<BackendConfigWithCreds>(
            &json!({"type": kind, "creds": {"type": "api_key", "api_key": ""}}),
        )
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "creds.api_key");
        assert_eq!(errors[0].message, "String should have at least 1 character");
        assert_eq!(
            backend_errors(&format!("type: {kind}\ncreds: {{}}")),
            ["5:12: projects[0].backends[0].creds.api_key: missing required field `api_key`"]
        );
    }
    // min_length counts whitespace: a blank key parses (and fails at the credential check).
    let BackendConfigWithCreds::Lium(lium) = backend("type: lium\ncreds: {api_key: ' '}") else {
        panic!()
    };
    assert_eq!(lium.creds.api_key.expose(), " ");
}

#[test]
fn lium_keeps_its_regions_unchecked() {
    let config = backend("type: lium\nregions: [us-ca, de-he, nowhere]\ncreds: {api_key: k}");
    assert_eq!(config.backend_type(), BackendType::Lium);
    assert!(config.problems().is_empty());
    assert_eq!(
        serde_json::to_value(&config).unwrap(),
        json!({"type": "lium", "regions": ["us-ca", "de-he", "nowhere"],
               "creds": {"type": "api_key", "api_key": "k"}})
    );
    assert_eq!(
        backend_errors("type: lium\nregions: us-ca\ncreds: {api_key: k}"),
        ["5:14: projects[0].backends[0].regions: expected a list, found a string \"us-ca\""]
    );
}

#[test]
fn seeweb_takes_an_api_token_that_may_be_empty() {
    let config = backend("type: seeweb\ncreds: {api_token: ''}");
    let BackendConfigWithCreds::Seeweb(seeweb) = &config else { panic!("{config:?}") };
    assert!(seeweb.creds.api_token.is_empty());
    assert_eq!(
        serde_json::to_value(&config).unwrap(),
        json!({"type": "seeweb", "regions": null, "creds": {"type": "api_token", "api_token": ""}})
    );
    backend("type: seeweb\nregions: [it-mi2, ch-lug1]\ncreds: {type: api_token, api_token: t}");
    // Its creds type is `api_token`, not `api_key`.
    assert_eq!(
        backend_errors("type: seeweb\ncreds: {type: api_key, api_token: t}"),
        [
            "5:19: projects[0].backends[0].creds.type: unknown value `api_key`; did you mean `api_token`? Valid values: `api_token`"
        ]
    );
    let errors = backend_errors("type: seeweb\ncreds: {api_key: t}");
    assert_eq!(
        errors,
        [
            "5:12: projects[0].backends[0].creds.api_token: missing required field `api_token`",
            "5:13: projects[0].backends[0].creds.api_key: unknown field `api_key`; did you mean `api_token`?",
        ]
    );
}

#[test]
fn the_new_types_refuse_unknown_keys() {
    assert_eq!(
        backend_errors("type: daytona\nregion: earth\ncreds: {api_key: k}"),
        ["5:5: projects[0].backends[0].region: unknown field `region`; did you mean `regions`?"]
    );
    let untagged = from_json::<BackendConfigWithCreds>(&json!({"creds": {"api_token": "x"}}));
    assert!(untagged.is_err(), "the API union needs `type`, unlike dstack's (S12)");
}

#[test]
fn gcp_tpu_is_a_lax_boolean_and_off_by_default() {
    let gcp = |tpu: &str| {
        let text = format!("type: gcp\nproject_id: p\ntpu: {tpu}\ncreds: {{type: default}}");
        match backend(&text) {
            BackendConfigWithCreds::Gcp(c) => c,
            other => panic!("{other:?}"),
        }
    };
    for word in ["true", "'true'", "yes", "on", "'1'", "1"] {
        assert!(gcp(word).allow_tpu(), "{word}");
    }
    for word in ["off", "0", "false"] {
        assert_eq!(gcp(word).tpu, Some(false), "{word}");
    }
    assert!(!gcp("null").allow_tpu());
    for word in ["2", "sometimes"] {
        let errors = backend_errors(&format!(
            "type: gcp\nproject_id: p\ntpu: {word}\ncreds: {{type: default}}"
        ));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("6:10: projects[0].backends[0].tpu: expected a boolean"),
            "{errors:?}"
        );
    }
}

#[test]
fn gcp_fields_keep_dstacks_order() {
    let config = backend(
        "type: gcp\nproject_id: p\nsubnetworks: {us-east1: sub-a}\nvpc_name: v\ntpu: true\n\
         regions: [us-east1]\ncreds: {type: default}",
    );
    let value = serde_json::to_value(&config).unwrap();
    let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "type",
            "project_id",
            "regions",
            "tpu",
            "vpc_name",
            "subnetworks",
            "extra_vpcs",
            "roce_vpcs",
            "vpc_project_id",
            "public_ips",
            "nat_check",
            "vm_service_account",
            "tags",
            "preview_features",
            "creds"
        ]
    );
    let BackendConfigWithCreds::Gcp(gcp) = config else { panic!() };
    assert_eq!(gcp.subnetwork("us-east1"), Some("sub-a"));
    assert_eq!(gcp.subnetwork("us-west1"), None);
    assert!(gcp.problems().is_empty());
}

#[test]
fn gcp_subnetworks_values_are_strings() {
    let BackendConfigWithCreds::Gcp(gcp) = backend(
        "type: gcp\nproject_id: p\nvpc_name: v\nsubnetworks: {us-east1: 42}\ncreds: {type: default}",
    ) else {
        panic!()
    };
    assert_eq!(gcp.subnetwork("us-east1"), Some("42"));
    for value in ["null", "{a: b}"] {
        let errors = backend_errors(&format!(
            "type: gcp\nproject_id: p\nvpc_name: v\nsubnetworks: {{us-east1: {value}}}\ncreds: {{type: default}}"
        ));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("projects[0].backends[0].subnetworks.us-east1: expected a string"),
            "{errors:?}"
        );
    }
}

#[test]
fn gcp_subnetworks_rules_warn_as_the_configurator_refuses() {
    // dstack checks them only when it configures the backend: in config.yml they skip the
    // backend with a warning, they do not stop start-up (S28).
    assert_eq!(
        backend_warnings(
            "type: gcp\nproject_id: p\nsubnetworks: {us-east1: s}\ncreds: {type: default}"
        ),
        [format!(
            "6:18: projects[0].backends[0].subnetworks: `vpc_name` must be specified when `subnetworks` is configured.{REFUSED_LATER}"
        )]
    );
    assert_eq!(
        backend_warnings(
            "type: gcp\nproject_id: p\nregions: [us-west1]\nvpc_name: v\n\
             subnetworks: {zz: s, us-east1: s, us-west1: s}\ncreds: {type: default}"
        ),
        [format!(
            "8:18: projects[0].backends[0].subnetworks: `subnetworks` is configured for regions not in `regions`: ['us-east1', 'zz']{REFUSED_LATER}"
        )]
    );
    // Without `regions` (or with `regions: []`), dstack's 35 default regions count.
    for regions in ["", "regions: []\n"] {
        let text = format!(
            "type: gcp\nproject_id: p\n{regions}vpc_name: v\nsubnetworks: {{us-east1: s, me-west1: t}}\ncreds: {{type: default}}"
        );
        assert!(backend_warnings(&text).is_empty(), "{regions}");
    }
    // An empty map is no map.
    let BackendConfigWithCreds::Gcp(gcp) =
        backend("type: gcp\nproject_id: p\nsubnetworks: {}\ncreds: {type: default}")
    else {
        panic!()
    };
    assert!(gcp.problems().is_empty());
    assert_eq!(GCP_DEFAULT_REGIONS.len(), 35);
}

#[test]
fn hotaisle_bare_metal_is_opt_in() {
    let config = backend("type: hotaisle\nteam_handle: t\nbare_metal: 'yes'\ncreds: {api_key: k}");
    let BackendConfigWithCreds::Hotaisle(hotaisle) = &config else { panic!() };
    assert!(hotaisle.allow_bare_metal());
    let keys: Vec<String> =
        serde_json::to_value(&config).unwrap().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["type", "team_handle", "regions", "bare_metal", "creds"]);
    let BackendConfigWithCreds::Hotaisle(hotaisle) =
        backend("type: hotaisle\nteam_handle: t\ncreds: {api_key: k}")
    else {
        panic!()
    };
    assert!(!hotaisle.allow_bare_metal());
    let errors = backend_errors(
        "type: hotaisle\nteam_handle: t\nbare_metal: sometimes\ncreds: {api_key: k}",
    );
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("6:17: projects[0].backends[0].bare_metal: expected a boolean"));
}

#[test]
fn oci_experimental_instance_types_are_a_list_of_names() {
    let config = backend(
        "type: oci\ncompartment_id: c\nexperimental_instance_types: [VM.GPU.A10.2, 7]\n\
         creds: {type: default}",
    );
    let BackendConfigWithCreds::Oci(oci) = &config else { panic!() };
    assert_eq!(oci.experimental_instance_types.as_deref().unwrap(), ["VM.GPU.A10.2", "7"]);
    let keys: Vec<String> =
        serde_json::to_value(&config).unwrap().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["type", "regions", "compartment_id", "experimental_instance_types", "creds"]);
    assert_eq!(
        backend_errors("type: oci\nexperimental_instance_types: BM.GPU4.8\ncreds: {type: default}"),
        [
            "5:34: projects[0].backends[0].experimental_instance_types: expected a list, found a string \"BM.GPU4.8\""
        ]
    );
}

#[test]
fn jarvislabs_regions_message_is_dstacks() {
    let BackendConfigWithCreds::Jarvislabs(jarvis) =
        backend("type: jarvislabs\nregions: [us-1, india-01, eu-2, us-1]\ncreds: {api_key: k}")
    else {
        panic!()
    };
    assert_eq!(
        jarvis.problems(),
        [(
            vec!["regions".to_owned()],
            "Unsupported JarvisLabs regions: ['eu-2', 'us-1']. Supported regions: \
             ['europe-01', 'india-01', 'india-chennai-01', 'india-noida-01']. \
             JarvisLabs does not expose provisioning endpoint discovery."
                .to_owned()
        )]
    );
}
