//! The rules of dstack 0.22.5's config models, and the exact messages we give when one is
//! broken.

use std::path::Path;

use dstack_core::config::backends::*;
use dstack_core::config::load::{from_json, from_yaml};
use dstack_core::config::{BackendConfigWithCreds, BackendFileConfig, LoadedConfig, load_str};
use dstack_core::yaml::{Diagnostic, Severity};

fn accept(text: &str) -> LoadedConfig {
    match load_str(text, "config.yml") {
        Ok(config) => config,
        Err(report) => panic!("refused:\n{}", report.render()),
    }
}

/// The errors of a refused config, as `line:column: path: message`.
fn refuse(text: &str) -> Vec<String> {
    match load_str(text, "config.yml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(report) => report.errors().map(Diagnostic::to_string).collect(),
    }
}

fn backend(text: &str) -> BackendConfigWithCreds {
    let config = accept(&format!("projects:\n- name: main\n  backends:\n  - {}", indent(text)));
    config.projects[0].backends.as_ref().unwrap()[0].config.clone()
}

fn backend_errors(text: &str) -> Vec<String> {
    refuse(&format!("projects:\n- name: main\n  backends:\n  - {}", indent(text)))
}

fn indent(text: &str) -> String {
    text.trim_end().replace('\n', "\n    ")
}

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/config-examples")
}

fn example(path: &str) -> String {
    std::fs::read_to_string(examples().join(path)).unwrap()
}

#[test]
fn root_rules() {
    assert_eq!(
        refuse(""),
        ["1:1: config.yml must be a mapping with a `projects` list, found an empty document"]
    );
    assert_eq!(
        refuse("- a\n"),
        ["1:1: config.yml must be a mapping with a `projects` list, found a list"]
    );
    assert_eq!(
        refuse("encryption: null\n"),
        ["1:1: projects: missing required field `projects` (it may be `[]`)"]
    );
    assert_eq!(
        refuse("projects: []\nproject: []\n"),
        ["2:1: project: unknown field `project`; did you mean `projects`?"]
    );
    assert_eq!(
        refuse("projects: []\nplugins: plugin\n"),
        ["2:10: plugins: expected a list, found a string \"plugin\""]
    );
    let config = accept("projects: []\nplugins: [rest_plugin]\n");
    assert_eq!(config.plugins.unwrap(), ["rest_plugin"]);
    assert!(accept("projects: []\n").projects.is_empty());
}

#[test]
fn project_rules() {
    assert_eq!(
        refuse("projects:\n- backends: []\n"),
        ["2:3: projects[0].name: missing required field `name`"]
    );
    assert_eq!(
        refuse("projects:\n- name: a b\n"),
        [
            "2:9: projects[0].name: invalid project name `a b`: use 1 to 50 letters, digits, `-` or `_` (regex '^[a-zA-Z0-9-_]{1,50}$')"
        ]
    );
    let long = "x".repeat(51);
    assert_eq!(refuse(&format!("projects:\n- name: {long}\n")).len(), 1);
    // Numbers are names too, as pydantic coerces them.
    assert_eq!(accept("projects:\n- name: 42\n").projects[0].name, "42");
    // No uniqueness checks, like dstack.
    assert_eq!(accept("projects:\n- name: a\n- name: a\n").projects.len(), 2);
    let config = accept("projects:\n- name: a\n- name: b\n  backends: []\n");
    assert!(config.projects[0].backends.is_none());
    assert_eq!(config.projects[1].backends.as_ref().unwrap().len(), 0);
}

#[test]
fn every_error_of_a_file_is_reported() {
    let errors = refuse(
        "projects:
- name: main
  backends:
  - type: lambda
    creds: {}
  - type: runpod
    creds: {api_key: k}
    community_cloud: sometimes
- name: bad name
  backends:
  - type: oci
    creds: {type: default}
    region: us-ashburn-1
encryption:
  keys:
  - type: aes
    name: k1
    secret: bad
",
    );
    assert_eq!(
        errors,
        [
            "5:12: projects[0].backends[0].creds.api_key: missing required field `api_key`",
            "8:22: projects[0].backends[1].community_cloud: expected a boolean (true or false), found a string \"sometimes\"",
            "9:9: projects[1].name: invalid project name `bad name`: use 1 to 50 letters, digits, `-` or `_` (regex '^[a-zA-Z0-9-_]{1,50}$')",
            "13:5: projects[1].backends[0].region: unknown field `region`; did you mean `regions`?",
            "18:13: encryption.keys[0].secret: Failed to decode secret from base64; generate one with `head -c 32 /dev/urandom | base64`",
        ]
    );
}

#[test]
fn backend_type_is_required_and_checked() {
    let all = "`amddevcloud`, `aws`, `azure`, `cloudrift`, `crusoe`, `cudo`, `datacrunch`, `daytona`, `digitalocean`, `gcp`, `hotaisle`, `jarvislabs`, `kubernetes`, `lambda`, `lium`, `nebius`, `oci`, `runpod`, `seeweb`, `slurm`, `tensordock`, `vastai`, `verda`, `vultr`";
    assert_eq!(
        backend_errors("type: lamda\ncreds: {api_key: k}"),
        [format!(
            "4:11: projects[0].backends[0].type: unknown backend type `lamda`; did you mean `lambda`? Valid values: {all}"
        )]
    );
    assert_eq!(
        backend_errors("creds: {api_key: k}"),
        [format!(
            "4:5: projects[0].backends[0].type: missing required field `type`; expected one of: {all}"
        )]
    );
    // `dstack` and `remote` are not accepted in config.yml.
    assert_eq!(backend_errors("type: dstack\nbase_backends: [aws]").len(), 1);
    assert_eq!(backend_errors("type: remote").len(), 1);
    assert_eq!(
        backend_errors("type: 5"),
        [format!("4:11: projects[0].backends[0].type: expected one of {all}, found a number `5`")]
    );
}

#[test]
fn creds_unions_need_type_single_creds_do_not() {
    // Multi-variant creds (aws, azure, gcp, oci) need `type`.
    let errors = backend_errors("type: aws\ncreds: {access_key: a, secret_key: b}");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("5:12: projects[0].backends[0].creds.type: missing required field `type`; expected one of: `access_key`, `default`"), "{errors:?}");
    // Single-variant creds may omit it, or give it.
    let BackendConfigWithCreds::Lambda(lambda) = backend("type: lambda\ncreds: {api_key: k}")
    else {
        panic!()
    };
    assert_eq!(lambda.creds.api_key.expose(), "k");
    backend("type: lambda\ncreds: {type: api_key, api_key: k}");
    assert_eq!(
        backend_errors("type: lambda\ncreds: {type: access_key, api_key: k}"),
        [
            "5:19: projects[0].backends[0].creds.type: unknown value `access_key`; valid values: `api_key`"
        ]
    );
    // A unit variant takes no other keys.
    assert_eq!(
        backend_errors("type: aws\ncreds: {type: default, access_key: a}"),
        [
            "5:28: projects[0].backends[0].creds.access_key: unknown field `access_key`; this section takes no fields"
        ]
    );
}

#[test]
fn scalars_coerce_like_pydantic() {
    // Numbers where strings are expected.
    let BackendConfigWithCreds::Aws(aws) = backend(&example_backend("06-aws-os-images.yml")) else {
        panic!()
    };
    assert_eq!(aws.os_images.unwrap().nvidia.unwrap().owner.as_str(), "123456789012");
    let BackendConfigWithCreds::Vultr(vultr) =
        backend("type: vultr\nregions: [1, 2.5]\ncreds: {api_key: 0x10}")
    else {
        panic!()
    };
    assert_eq!(vultr.regions.unwrap(), ["1", "2.5"]);
    assert_eq!(vultr.creds.api_key.expose(), "16");
    // Lax booleans: YAML 1.1 words, and the strings and numbers pydantic takes.
    for (text, value) in [("yes", true), ("off", false), ("'Y'", true), ("'0'", false), ("1", true)]
    {
        let BackendConfigWithCreds::Runpod(r) =
            backend(&format!("type: runpod\ncommunity_cloud: {text}\ncreds: {{api_key: k}}"))
        else {
            panic!()
        };
        assert_eq!(r.community_cloud, Some(value), "{text}");
    }
    // But a boolean is not a string: YAML 1.1 reads `yes` as true.
    assert_eq!(
        backend_errors("type: lambda\ncreds: {api_key: yes}"),
        ["5:22: projects[0].backends[0].creds.api_key: expected a string, found a boolean `true`"]
    );
    // Lists must be lists.
    assert_eq!(
        backend_errors("type: lambda\nregions: us-east-1\ncreds: {api_key: k}"),
        ["5:14: projects[0].backends[0].regions: expected a list, found a string \"us-east-1\""]
    );
    // Integers from strings.
    let BackendConfigWithCreds::Slurm(slurm) = backend(
        "type: slurm\nclusters:\n- {name: c, hostname: h, user: u, port: '2222', private_key: {content: k}}",
    ) else {
        panic!()
    };
    assert_eq!(slurm.clusters[0].port, Some(2222));
    assert_eq!(
        backend_errors(
            "type: slurm\nclusters:\n- {name: c, hostname: h, user: u, port: 22.5, private_key: {content: k}}"
        ),
        [
            "6:45: projects[0].backends[0].clusters[0].port: expected an integer, found a number `22.5`"
        ]
    );
    // A date is not a string.
    assert_eq!(backend_errors("type: lambda\ncreds: {api_key: 2024-01-01}").len(), 1);
}

fn example_backend(file: &str) -> String {
    // The single backend of a documented example, re-indented as a list item body.
    let config = example(file);
    let start = config.find("type:").unwrap();
    let body = &config[start..];
    let first_indent = config[..start].rsplit('\n').next().unwrap().len();
    body.lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 { line.to_owned() } else { line.get(first_indent..).unwrap_or("").to_owned() }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn aws_rules() {
    assert_eq!(
        backend_errors(
            "type: aws\ncreds: {type: default}\nos_images: {cpu: {name: n, user: u, owner: me}}"
        ),
        [
            "6:48: projects[0].backends[0].os_images.cpu.owner: invalid AMI owner `me`: expected a 12-digit AWS account ID or `self`"
        ]
    );
    let BackendConfigWithCreds::Aws(aws) =
        backend("type: aws\ncreds: {type: default}\nos_images: {cpu: {name: n, user: u}}")
    else {
        panic!()
    };
    assert_eq!(aws.os_images.unwrap().cpu.unwrap().owner.as_str(), "self");
    // Rules dstack checks before any cloud call are warnings offline: the server would start
    // and then refuse the backend.
    let config = accept(
        "projects:\n- name: main\n  backends:\n  - type: aws\n    vpc_name: a\n    vpc_ids: {us-east-1: vpc-1}\n    creds: {type: default}\n",
    );
    assert_eq!(config.warnings.len(), 1);
    assert_eq!(
        config.warnings[0].to_string(),
        "6:14: projects[0].backends[0].vpc_ids: Only one of `vpc_name` and `vpc_ids` can be specified (the server will refuse this backend when it applies the config)"
    );
}

#[test]
fn oci_key_rules() {
    let base =
        "type: oci\ncreds:\n  type: client\n  user: u\n  tenancy: t\n  fingerprint: f\n  region: r";
    assert_eq!(
        backend_errors(base),
        ["6:7: projects[0].backends[0].creds: Either key_file or key_content should be set"]
    );
    assert_eq!(
        backend_errors(&format!("{base}\n  key_file: a\n  key_content: b")),
        [
            "6:7: projects[0].backends[0].creds: key_file and key_content are mutually exclusive; set only one of them"
        ]
    );
    backend(&format!("{base}\n  key_file: ~/.oci/key.pem"));
    let BackendConfigWithCreds::Oci(oci) = backend("type: oci\ncreds: {type: default}") else {
        panic!()
    };
    let OciCreds::Default(defaults) = oci.creds else { panic!() };
    assert_eq!((defaults.file.as_str(), defaults.profile.as_str()), ("~/.oci/config", "DEFAULT"));
}

#[test]
fn encryption_rules() {
    let key = "head -c 32 /dev/urandom | base64";
    let good = "cR2r1JmkPyL6edBQeHKz6ZBjCfS2oWk87Gc2G3wHVoA=";
    accept(&format!(
        "projects: []\nencryption:\n  keys:\n  - {{type: aes, name: key1, secret: {good}}}\n  - {{type: identity}}\n"
    ));
    assert_eq!(
        refuse("projects: []\nencryption:\n  keys:\n  - {name: a, secret: b}\n"),
        [
            "4:5: encryption.keys[0].type: missing required field `type`; expected one of: `identity`, `aes`"
        ]
    );
    assert_eq!(
        refuse(&format!(
            "projects: []\nencryption:\n  keys:\n  - {{type: aes, name: key-1, secret: {good}}}\n"
        )),
        [
            "4:23: encryption.keys[0].name: Key name must be alphanumeric (letters and digits only), got `key-1`"
        ]
    );
    assert_eq!(
        refuse("projects: []\nencryption:\n  keys:\n  - {type: aes, name: k, secret: c2hvcnQ=}\n"),
        [format!(
            "4:34: encryption.keys[0].secret: AES key must be 32 bytes. Got 5 bytes; generate one with `{key}`"
        )]
    );
    assert_eq!(
        refuse("projects: []\nencryption: {}\n"),
        ["2:13: encryption.keys: missing required field `keys`"]
    );
    assert_eq!(refuse("projects: []\nencryption:\n  keys:\n  - {type: rsa}\n").len(), 1);
}

#[test]
fn default_permissions_rules() {
    let config = accept(&format!("projects: []\n{}", example("extra/04-default-permissions.yml")));
    let permissions = config.default_permissions.unwrap();
    assert!(!permissions.allow_non_admins_create_projects);
    let config = accept("projects: []\ndefault_permissions: {}\n");
    assert_eq!(config.default_permissions.unwrap(), Default::default());
    assert_eq!(
        refuse("projects: []\ndefault_permissions: {allow_managers_manage_secret: true}\n"),
        [
            "2:23: default_permissions.allow_managers_manage_secret: unknown field `allow_managers_manage_secret`; did you mean `allow_managers_manage_secrets`?"
        ]
    );
    // A null where a boolean with a default is expected is refused, as by pydantic.
    assert_eq!(
        refuse("projects: []\ndefault_permissions: {allow_managers_manage_secrets: null}\n").len(),
        1
    );
}

#[test]
fn file_references_are_read_and_located() {
    let dir = tempfile::tempdir().unwrap();
    let sa = dir.path().join("sa.json");
    std::fs::write(&sa, r#"{"type": "service_account"}"#).unwrap();
    let BackendConfigWithCreds::Gcp(gcp) = backend(&format!(
        "type: gcp\nproject_id: p\ncreds: {{type: service_account, filename: {}}}",
        sa.display()
    )) else {
        panic!()
    };
    let GcpCreds::ServiceAccount(creds) = gcp.creds else { panic!() };
    assert_eq!(creds.data.expose(), r#"{"type": "service_account"}"#);
    assert_eq!(creds.filename, sa.display().to_string());
    // `data` wins and the file is not opened.
    let BackendConfigWithCreds::Gcp(gcp) = backend(
        "type: gcp\nproject_id: p\ncreds: {type: service_account, filename: /nope, data: '{}'}",
    ) else {
        panic!()
    };
    let GcpCreds::ServiceAccount(creds) = gcp.creds else { panic!() };
    assert_eq!(creds.data.expose(), "{}");
    // The file form of GCP requires `filename`, even with `data` (dstack's rule).
    assert_eq!(
        backend_errors("type: gcp\nproject_id: p\ncreds: {type: service_account, data: '{}'}"),
        ["6:12: projects[0].backends[0].creds.filename: missing required field `filename`"]
    );
    assert_eq!(
        backend_errors(
            "type: gcp\nproject_id: p\ncreds: {type: service_account, filename: /no/such.json}"
        ),
        ["6:46: projects[0].backends[0].creds.filename: No such file /no/such.json"]
    );
    assert_eq!(
        backend_errors("type: kubernetes\nkubeconfig: {filename: ''}"),
        [
            "5:28: projects[0].backends[0].kubeconfig.filename: Either `filename` or `data` must be specified"
        ]
    );
    // Slurm keys are located inside the right cluster.
    let key = dir.path().join("id");
    std::fs::write(&key, "KEY").unwrap();
    let errors = backend_errors(&format!(
        "type: slurm\nclusters:\n- {{name: a, hostname: h, user: u, private_key: {{path: {}}}}}\n- {{name: b, hostname: h, user: u, private_key: {{path: /nope}}}}",
        key.display()
    ));
    assert_eq!(
        errors,
        ["7:59: projects[0].backends[0].clusters[1].private_key.path: No such file /nope"]
    );
    // Nebius: the key file fills `private_key_content`; without IDs the API form is refused.
    let BackendConfigWithCreds::Nebius(nebius) = backend(&format!(
        "type: nebius\ncreds: {{service_account_id: s, public_key_id: p, private_key_file: {}}}",
        key.display()
    )) else {
        panic!()
    };
    assert_eq!(nebius.creds.private_key_content.expose(), "KEY");
    assert_eq!(
        backend_errors("type: nebius\ncreds: {private_key_content: K}"),
        [
            "5:12: projects[0].backends[0].creds.service_account_id: missing required field `service_account_id`; set it, or set `filename` to a Nebius CLI credentials file"
        ]
    );
}

#[test]
fn kubernetes_forms() {
    let BackendConfigWithCreds::Kubernetes(k8s) = backend(&format!(
        "type: kubernetes\nkubeconfig: {{data: 'apiVersion: v1'}}\n{}",
        example("fragments/01-kubernetes-contexts-proxy-jump-fragment.yml")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    )) else {
        panic!()
    };
    let contexts = k8s.contexts.unwrap();
    let KubernetesContext::Config(context) = &contexts[0] else { panic!() };
    assert_eq!(context.proxy_jump.as_ref().unwrap().port, Some(32000));
    // Contexts may be plain names.
    let BackendConfigWithCreds::Kubernetes(k8s) =
        backend("type: kubernetes\nkubeconfig: {data: x}\ncontexts: [a, {name: b}]")
    else {
        panic!()
    };
    let names: Vec<&str> =
        k8s.contexts.as_ref().unwrap().iter().map(KubernetesContext::name).collect();
    assert_eq!(names, ["a", "b"]);
    // The kubeconfig syntax of the docs' namespace fragment is not a backend context.
    let errors = backend_errors(&format!(
        "type: kubernetes\nkubeconfig: {{data: x}}\n{}",
        example("fragments/02-kubeconfig-context-namespace-NOT-dstack-config.yml")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    ));
    assert_eq!(
        errors,
        [
            "8:7: projects[0].backends[0].contexts[0].context: unknown field `context`; valid fields are: `name`, `proxy_jump`"
        ]
    );
    assert_eq!(
        backend_errors("type: kubernetes\nkubeconfig: {data: x}\ncontexts: [[a]]"),
        ["6:16: projects[0].backends[0].contexts[0]: expected a string or a mapping, found a list"]
    );
    // The old `networking` section still works, with a deprecation warning.
    let config = accept(
        "projects:\n- name: main\n  backends:\n  - type: kubernetes\n    kubeconfig: {data: x}\n    networking: {ssh_host: 1.2.3.4, ssh_port: 32000}\n",
    );
    let BackendConfigWithCreds::Kubernetes(k8s) =
        &config.projects[0].backends.as_ref().unwrap()[0].config
    else {
        panic!()
    };
    assert_eq!(k8s.proxy_jump.as_ref().unwrap().hostname.as_deref(), Some("1.2.3.4"));
    assert!(config.warnings.iter().any(
        |w| w.severity == Severity::Warning && w.message.contains("`networking` is deprecated")
    ));
    assert!(!serde_json::to_string(&k8s).unwrap().contains("networking"));
    assert_eq!(
        backend_errors(
            "type: kubernetes\nkubeconfig: {data: x}\nproxy_jump: {port: 1}\nnetworking: {ssh_port: 2}"
        ),
        [
            "7:17: projects[0].backends[0].networking: `networking` is a deprecated alias of `proxy_jump`; set only `proxy_jump`"
        ]
    );
    // dstack's pre-flight context rules are warnings offline.
    let config = accept(
        "projects:\n- name: main\n  backends:\n  - type: kubernetes\n    kubeconfig: {data: x}\n    contexts: [b, a, b]\n",
    );
    assert!(config.warnings.iter().any(|w| w.message.starts_with("duplicate contexts: b")));
}

#[test]
fn deprecated_and_removed_types_parse_with_warnings() {
    for (text, fragment) in [
        ("type: datacrunch\ncreds: {client_id: a, client_secret: b}", "use `type: verda`"),
        ("type: cudo\nproject_id: p\ncreds: {api_key: k}", "removed from dstack"),
        ("type: tensordock\ncreds: {api_key: k, api_token: t}", "deprecated in dstack"),
    ] {
        let config = accept(&format!("projects:\n- name: main\n  backends:\n  - {}", indent(text)));
        assert!(config.warnings.iter().any(|w| w.message.contains(fragment)), "{text}");
    }
    // verda/datacrunch and digitalocean/amddevcloud share models but keep their type.
    assert_eq!(
        backend("type: amddevcloud\ncreds: {api_key: k}").backend_type(),
        BackendType::Amddevcloud
    );
    assert_eq!(
        backend("type: datacrunch\ncreds: {client_id: a, client_secret: b}").backend_type(),
        BackendType::Datacrunch
    );
}

#[test]
fn gcp_list_limits() {
    backend(
        "type: gcp\nproject_id: p\ncreds: {type: default}\npreview_features: [g4]\nroce_vpcs: [a]",
    );
    assert_eq!(
        backend_errors("type: gcp\nproject_id: p\ncreds: {type: default}\npreview_features: [g5]"),
        [
            "7:24: projects[0].backends[0].preview_features[0]: unknown value `g5`; valid values: `g4`"
        ]
    );
}

#[test]
fn api_form_snippets_get_dstacks_verdicts() {
    let strip =
        |text: String| text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
    // INDEX: (snippet, accepted by the API model, accepted by the config.yml model)
    for (file, api_ok, file_ok) in [
        ("snippets/01-gcp-ui-service-account-data.yml", true, false),
        ("snippets/02-nebius-ui-private-key-content.yml", true, true),
        ("snippets/03-nebius-projects.yml", false, true),
        ("snippets/04-kubernetes-ui-kubeconfig-data.yml", true, true),
        ("snippets/05-slurm-ui-private-key-content.yml", true, true),
    ] {
        let text = strip(example(file));
        assert_eq!(
            from_yaml::<BackendConfigWithCreds>(&text).is_ok(),
            api_ok,
            "API form of {file}"
        );
        let file_form = from_yaml::<BackendFileConfig>(&text);
        // The config.yml verdict also needs the file it names (03 names ~/path/to/key.pem):
        // parsing must succeed, reading is checked elsewhere.
        assert_eq!(file_form.is_ok(), file_ok, "config.yml form of {file}: {file_form:?}");
    }
    let errors =
        from_yaml::<BackendConfigWithCreds>(&strip(example("snippets/03-nebius-projects.yml")))
            .unwrap_err();
    assert_eq!(errors[0].path, "creds.private_key_content");
}

#[test]
fn json_api_form_has_paths_and_round_trips() {
    let body = serde_json::json!({
        "type": "aws",
        "regions": ["us-east-1"],
        "creds": {"type": "access_key", "access_key": "AKIA", "secret_key": "S"}
    });
    let config: BackendConfigWithCreds = from_json(&body).unwrap();
    // Serialized as dstack's model_dump(): `type` first, every field, nulls included.
    assert_eq!(
        serde_json::to_string(&config).unwrap(),
        r#"{"type":"aws","regions":["us-east-1"],"vpc_name":null,"vpc_ids":null,"default_vpcs":null,"public_ips":null,"iam_instance_profile":null,"tags":null,"os_images":null,"experimental_instance_types":null,"creds":{"type":"access_key","access_key":"AKIA","secret_key":"S"}}"#
    );
    assert_eq!(
        from_json::<BackendConfigWithCreds>(&serde_json::to_value(&config).unwrap()).unwrap(),
        config
    );
    // The non-admin view has no creds.
    assert!(config.without_creds().get("creds").is_none());
    let errors = from_json::<BackendConfigWithCreds>(
        &serde_json::json!({"type": "aws", "creds": {"type": "access_key"}}),
    )
    .unwrap_err();
    assert_eq!(errors[0].path, "creds.access_key");
    assert!(!errors[0].location.is_known());
    // `dstack` is an API-only type.
    let dstack: BackendConfigWithCreds =
        from_json(&serde_json::json!({"type": "dstack", "base_backends": ["aws"]})).unwrap();
    assert_eq!(dstack.backend_type(), BackendType::Dstack);
}

#[test]
fn without_creds_views_drop_every_secret() {
    let k8s: BackendConfigWithCreds =
        from_yaml("type: kubernetes\nkubeconfig: {data: SECRET}\n").unwrap();
    assert_eq!(
        k8s.without_creds(),
        serde_json::json!({"type": "kubernetes", "contexts": null, "proxy_jump": null, "namespace": null})
    );
    let slurm: BackendConfigWithCreds = from_yaml("type: slurm\nclusters:\n- {name: a, hostname: h, port: 22, user: u, private_key: {content: SECRET}, cpu_partitions: [c]}\n").unwrap();
    assert_eq!(
        slurm.without_creds(),
        serde_json::json!({"type": "slurm", "clusters": [{"name": "a", "gpu_partitions": null, "cpu_partitions": ["c"]}]})
    );
}

#[test]
fn secrets_never_reach_debug_output() {
    let config = accept(
        "projects:\n- name: main\n  backends:\n  - type: aws\n    creds: {type: access_key, access_key: AKIAHIDDEN, secret_key: SECRETHIDDEN}\n  - type: kubernetes\n    kubeconfig: {data: KUBEHIDDEN}\nencryption:\n  keys: [{type: aes, name: k, secret: cR2r1JmkPyL6edBQeHKz6ZBjCfS2oWk87Gc2G3wHVoA=}]\n",
    );
    let debug = format!("{config:?}");
    for secret in ["AKIAHIDDEN", "SECRETHIDDEN", "KUBEHIDDEN", "cR2r1Jmk"] {
        assert!(!debug.contains(secret), "{secret} leaked into Debug output");
    }
}

#[test]
fn yaml_anchors_merges_and_duplicates() {
    // An anchor holder at the root is an unknown key, for dstack too.
    assert_eq!(refuse("x-creds: &c {api_key: k}\nprojects: []\n").len(), 1);
    let config = accept(
        "projects:\n- name: a\n  backends:\n  - {type: lambda, creds: &creds {api_key: shared}}\n  - type: vultr\n    <<: {creds: *creds}\n",
    );
    let backends = config.projects[0].backends.as_ref().unwrap();
    let BackendConfigWithCreds::Vultr(vultr) = &backends[1].config else { panic!() };
    assert_eq!(vultr.creds.api_key.expose(), "shared");
    let text = "projects:\n- name: a\n  backends:\n  - &l {type: lambda, creds: {api_key: k}}\n- name: b\n  backends: [*l]\n- name: a\n  name: c\n";
    let config = accept(text);
    assert_eq!(config.projects.len(), 3);
    assert_eq!(config.projects[2].name, "c");
    assert!(config.warnings.iter().any(|w| w.message.starts_with("duplicate key `name`")));
}

#[test]
fn file_form_round_trips_through_yaml() {
    // The typed file form, as the server will write a default config.yml: what it writes
    // must read back the same.
    use dstack_core::config::ServerConfig;
    let text = strip_comments(&example("31-kubernetes-contexts.yml"));
    let config: ServerConfig = from_yaml(&text).unwrap();
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(json["projects"][0]["backends"][0]["type"], "kubernetes");
    let again: ServerConfig = from_json(&json).unwrap();
    assert_eq!(again, config);
}

fn strip_comments(text: &str) -> String {
    text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n")
}
