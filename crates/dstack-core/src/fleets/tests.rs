//! Whole-spec tests, pinned to what dstack 0.22.5's models print (the verified JSON of the
//! research digest, and the output of its pydantic models run on the same inputs).

use serde_json::{Value, json};

use super::*;

/// The body `dstack apply` sends for `{type: fleet, name: my-fleet, nodes: 2, resources: {gpu: 24GB}}`.
const CLI_SPEC: &str = r#"{"configuration":{"type":"fleet","name":"my-fleet","placement":null,"blocks":1,"nodes":{"min":2,"max":2},"reservation":null,"resources":{"cpu":{"arch":null,"count":{"min":2,"max":null}},"memory":{"min":8.0,"max":null},"shm_size":null,"gpu":{"vendor":null,"name":null,"count":{"min":1,"max":null},"memory":{"min":24.0,"max":24.0},"total_memory":null,"compute_capability":null},"disk":{"size":{"min":100.0,"max":null}}},"backends":null,"regions":null,"availability_zones":null,"instance_types":null,"spot_policy":null,"retry":null,"max_price":null,"idle_duration":null,"tags":null,"backend_options":null,"ssh_config":null,"env":{}},"configuration_path":"fleet.dstack.yml","profile":{"backends":null,"regions":null,"availability_zones":null,"instance_types":null,"reservation":null,"spot_policy":null,"retry":null,"max_duration":null,"stop_duration":null,"max_price":null,"creation_policy":null,"idle_duration":null,"utilization_policy":null,"startup_order":null,"stop_criteria":null,"schedule":null,"fleets":null,"instances":null,"tags":null,"backend_options":null,"name":"default","default":false}}"#;

const DEFAULT_PROFILE: &str = r#"{"backends":null,"regions":null,"availability_zones":null,"instance_types":null,"reservation":null,"spot_policy":null,"retry":null,"max_duration":null,"stop_duration":null,"max_price":null,"creation_policy":null,"idle_duration":null,"utilization_policy":null,"startup_order":null,"stop_criteria":null,"schedule":null,"fleets":null,"instances":null,"tags":null,"backend_options":null,"name":"default","default":false}"#;

fn cli_spec() -> Value {
    serde_json::from_str(CLI_SPEC).unwrap()
}

fn spec_of(configuration: Value) -> Value {
    json!({"configuration": configuration, "configuration_path": "fleet.dstack.yml", "profile": {"name": "default"}})
}

fn parse(configuration: Value) -> FleetSpec {
    FleetSpec::from_json(&spec_of(configuration)).unwrap()
}

fn parse_with(configuration: Value, profile: Value) -> FleetSpec {
    let body = json!({"configuration": configuration, "profile": profile});
    FleetSpec::from_json(&body).unwrap()
}

fn errors(body: Value) -> Vec<(Vec<Value>, String)> {
    match FleetSpec::from_json(&body) {
        Err(FleetSpecError::Invalid(errors)) => {
            errors.into_iter().map(|e| (e.loc, e.msg)).collect()
        }
        other => panic!("expected errors, got {other:?}"),
    }
}

fn loc(parts: &[&str]) -> Vec<Value> {
    parts.iter().map(|p| json!(p)).collect()
}

#[test]
fn the_cli_body_reads_and_writes_back_unchanged() {
    let spec = FleetSpec::from_json(&cli_spec()).unwrap();
    assert_eq!(spec.name(), Some("my-fleet"));
    assert_eq!(spec.nodes(), Some(FleetNodes::exactly(2)));
    assert_eq!(spec.configuration_path.as_deref(), Some("fleet.dstack.yml"));
    assert_eq!(spec.raw_configuration(), &cli_spec()["configuration"]);
    assert_eq!(spec.raw_profile(), &cli_spec()["profile"]);
    let gpu = spec.configuration.resources.as_ref().unwrap().gpu.as_ref().unwrap();
    assert_eq!(gpu.count.min, Some(1));
    // Byte for byte, in dstack's field order; the dump adds `autocreated` at the end.
    assert_eq!(spec.to_json_without_autocreated().to_string(), CLI_SPEC);
    let dumped = spec.effective().to_json().to_string();
    assert_eq!(dumped, format!("{},\"autocreated\":false}}", &CLI_SPEC[..CLI_SPEC.len() - 1]));
    // What the server itself stored reads back too.
    assert_eq!(FleetSpec::from_json(&spec.to_json()).unwrap(), spec);
}

#[test]
fn a_short_spec_dumps_as_dstack_dumps_it() {
    let spec = parse(json!({"type": "fleet", "name": "my-fleet", "nodes": 2}));
    let expected = r#"{"type":"fleet","name":"my-fleet","placement":null,"blocks":1,"nodes":{"min":2,"max":2},"reservation":null,"resources":null,"backends":null,"regions":null,"availability_zones":null,"instance_types":null,"spot_policy":null,"retry":null,"max_price":null,"idle_duration":null,"tags":null,"backend_options":null,"ssh_config":null,"env":{}}"#;
    assert_eq!(spec.effective().configuration.to_json().to_string(), expected);
    assert_eq!(spec.profile.to_json()["name"], "default");
    assert_eq!(spec.profile.to_json().as_object().unwrap().len(), 22);
    let spec = parse(json!({"nodes": {"target": 2}, "blocks": "auto"}));
    let conf = spec.configuration.to_json();
    assert_eq!(conf["nodes"].to_string(), r#"{"min":0,"target":2,"max":null}"#);
    assert_eq!(conf["blocks"], "auto");
    assert_eq!(spec.configuration.blocks.total_blocks(), None);
}

#[test]
fn requirements_and_profile_of_an_instance_for_nodes_2() {
    let spec = parse(json!({"type": "fleet", "name": "my-fleet", "nodes": 2}));
    let requirements = r#"{"resources":{"cpu":{"arch":null,"count":{"min":1,"max":null}},"memory":{"min":0.0,"max":null},"shm_size":null,"gpu":{"vendor":null,"name":null,"count":{"min":0,"max":null},"memory":null,"total_memory":null,"compute_capability":null},"disk":null},"max_price":null,"spot":false,"reservation":null,"multinode":false,"backend_options":null}"#;
    assert_eq!(spec.requirements().to_json().to_string(), requirements);
    let profile = DEFAULT_PROFILE
        .replace(r#""spot_policy":null"#, r#""spot_policy":"on-demand""#)
        .replace(r#""retry":null"#, r#""retry":false"#);
    assert_eq!(spec.instance_profile_json().to_string(), profile);
    assert_eq!(
        spec.termination(),
        Termination { policy: TerminationPolicy::DestroyAfterIdle, idle_time: 259_200 }
    );
    assert_eq!(spec.configuration.blocks.total_blocks(), Some(1));
}

#[test]
fn requirements_of_the_cli_body_keep_its_resources() {
    let spec = FleetSpec::from_json(&cli_spec()).unwrap();
    let r = spec.requirements().to_json();
    assert_eq!(r["resources"], cli_spec()["configuration"]["resources"]);
    assert_eq!(r["spot"], false);
}

#[test]
fn the_configuration_wins_over_the_profile() {
    let spec = parse_with(
        json!({"name": "gpu-fleet", "nodes": "1..4", "placement": "cluster",
               "resources": {"cpu": 8, "memory": "32GB.."}, "spot_policy": "auto", "max_price": 2,
               "reservation": "cr-1", "idle_duration": "1h", "tags": {"team": "ml"},
               "backends": ["aws", "gcp"], "backend_options": [{"type": "vastai", "min_score": 100}]}),
        json!({"name": "p", "spot_policy": "spot", "max_price": 5, "regions": ["us-east-1"],
               "reservation": "other", "max_duration": "2h"}),
    );
    // dstack 0.22.5's merged profile and requirements for the same spec.
    let merged = r#"{"backends":["aws","gcp"],"regions":["us-east-1"],"availability_zones":null,"instance_types":null,"reservation":"cr-1","spot_policy":"auto","retry":false,"max_duration":7200,"stop_duration":null,"max_price":2.0,"creation_policy":null,"idle_duration":3600,"utilization_policy":null,"startup_order":null,"stop_criteria":null,"schedule":null,"fleets":null,"instances":null,"tags":{"team":"ml"},"backend_options":[{"type":"vastai","offer_order":null,"min_reliability":null,"min_score":100}],"name":"p","default":false}"#;
    assert_eq!(spec.instance_profile_json().to_string(), merged);
    let requirements = r#"{"resources":{"cpu":{"arch":null,"count":{"min":8,"max":8}},"memory":{"min":32.0,"max":null},"shm_size":null,"gpu":{"vendor":null,"name":null,"count":{"min":0,"max":null},"memory":null,"total_memory":null,"compute_capability":null},"disk":{"size":{"min":100.0,"max":null}}},"max_price":2.0,"spot":null,"reservation":"cr-1","multinode":true,"backend_options":[{"type":"vastai","offer_order":null,"min_reliability":null,"min_score":100}]}"#;
    assert_eq!(spec.requirements().to_json().to_string(), requirements);
    assert_eq!(spec.termination().idle_time, 3600);
    assert_eq!(spec.instance_reservation().as_deref(), Some("cr-1"));
    // The stored spec: the GPU default added, shorthands dumped in dstack's forms.
    let conf = spec.effective().to_json()["configuration"].clone();
    assert_eq!(conf["nodes"].to_string(), r#"{"min":1,"max":4}"#);
    assert_eq!(conf["max_price"].to_string(), "2.0");
    assert_eq!(conf["idle_duration"], 3600);
    assert_eq!(
        conf["resources"]["gpu"].to_string(),
        r#"{"vendor":null,"name":null,"count":{"min":0,"max":null},"memory":null,"total_memory":null,"compute_capability":null}"#
    );
    // Without `gpu`, the model's own default (`count: 0..`) applies before the server's.
    assert_eq!(spec.to_json()["configuration"]["resources"]["gpu"], conf["resources"]["gpu"]);
}

#[test]
fn a_null_gpu_gets_the_default_only_in_the_effective_spec() {
    let spec = parse(json!({"nodes": 1, "resources": {"gpu": null}}));
    assert_eq!(spec.to_json()["configuration"]["resources"]["gpu"], Value::Null);
    let effective = spec.effective().to_json();
    assert_eq!(
        effective["configuration"]["resources"]["gpu"]["count"],
        json!({"min": 0, "max": null})
    );
    assert_eq!(spec.requirements().requirements.resources.gpu.unwrap().count.min, Some(0));
    // No resources: nothing to default.
    let spec = parse(json!({"nodes": 1}));
    assert_eq!(spec.effective().to_json()["configuration"]["resources"], Value::Null);
}

#[test]
fn spot_policies() {
    let spot =
        |conf: Value, profile: Value| parse_with(conf, profile).requirements().requirements.spot;
    assert_eq!(spot(json!({"nodes": 1}), json!({})), Some(false));
    assert_eq!(spot(json!({"nodes": 1, "spot_policy": "spot"}), json!({})), Some(true));
    assert_eq!(spot(json!({"nodes": 1, "spot_policy": "auto"}), json!({})), None);
    assert_eq!(spot(json!({"nodes": 1}), json!({"spot_policy": "spot"})), Some(true));
    assert_eq!(
        spot(json!({"nodes": 1, "spot_policy": "on-demand"}), json!({"spot_policy": "spot"})),
        Some(false)
    );
}

#[test]
fn idle_duration_off_never_destroys() {
    for off in [json!("off"), json!(false), json!(-1)] {
        let spec = parse(json!({"nodes": 1, "idle_duration": off}));
        assert_eq!(spec.configuration.idle_duration, Some(-1));
        assert_eq!(
            spec.termination(),
            Termination { policy: TerminationPolicy::DontDestroy, idle_time: -1 }
        );
    }
    let spec = parse_with(json!({"nodes": 1}), json!({"idle_duration": "2d"}));
    assert_eq!(spec.termination().idle_time, 172_800);
}

#[test]
fn unknown_keys_are_refused_everywhere() {
    let mut body = cli_spec();
    body["configuration"]["foo"] = json!(1);
    body["profile"]["bar"] = json!(2);
    body["extra"] = json!(3);
    let msg = "Extra inputs are not permitted".to_owned();
    assert_eq!(
        errors(body),
        [
            (loc(&["configuration", "foo"]), msg.clone()),
            (loc(&["profile", "bar"]), msg.clone()),
            (loc(&["extra"]), msg),
        ]
    );
    let mut body = cli_spec();
    body["configuration"]["resources"]["gpus"] = json!(1);
    let found = errors(body);
    assert_eq!(found[0].0, loc(&["configuration", "resources", "gpus"]));
    // `merged_profile` is a model field: accepted and recomputed.
    let mut body = cli_spec();
    body["merged_profile"] = json!({"name": "x"});
    assert!(FleetSpec::from_json(&body).is_ok());
    assert_eq!(
        errors(json!({"profile": {}})),
        [(loc(&["configuration"]), "Field required".to_owned())]
    );
}

#[test]
fn pydantic_messages_of_fields() {
    let one = |conf: Value| errors(spec_of(conf));
    let c = |parts: &[&str]| {
        let mut l = loc(&["configuration"]);
        l.extend(loc(parts));
        l
    };
    assert_eq!(
        one(json!({"nodes": 1, "placement": "x"})),
        [(c(&["placement"]), "Input should be 'any' or 'cluster'".to_owned())]
    );
    assert_eq!(
        one(json!({"nodes": 1, "max_price": 0})),
        [(c(&["max_price"]), "Input should be greater than 0".to_owned())]
    );
    assert_eq!(
        one(json!({"nodes": 1, "blocks": 0})),
        [
            (c(&["blocks", "literal['auto']"]), "Input should be 'auto'".to_owned()),
            (
                c(&["blocks", "constrained-int"]),
                "Input should be greater than or equal to 1".to_owned()
            ),
        ]
    );
    assert_eq!(
        one(json!({"nodes": 1, "type": "task"})),
        [(c(&["type"]), "Input should be 'fleet'".to_owned())]
    );
    assert_eq!(
        one(json!({"nodes": 1, "spot_policy": "x"})),
        [(c(&["spot_policy"]), "Input should be 'spot', 'on-demand' or 'auto'".to_owned())]
    );
    assert_eq!(
        one(json!({"nodes": 1, "idle_duration": "5x"})),
        [(c(&["idle_duration"]), "Value error, Cannot parse the duration 5x".to_owned())]
    );
    assert_eq!(
        one(json!({"nodes": 1, "tags": {"bad key": "v"}})),
        [(c(&["tags"]), "Value error, Invalid tag key bad key. The key must match regex '^[_\\-a-zA-Z0-9]{1,60}$'".to_owned())]
    );
    assert_eq!(
        one(json!({"nodes": 1, "tags": {"k": "v!"}})),
        [(c(&["tags"]), "Value error, Invalid tag value v!. The value must match regex '^[a-zA-Z0-9 .:/=_\\-+@]{0,256}$'".to_owned())]
    );
    let backends = "Input should be 'amddevcloud', 'aws', 'azure', 'cloudrift', 'crusoe', 'cudo', 'datacrunch', 'daytona', 'digitalocean', 'dstack', 'gcp', 'hotaisle', 'jarvislabs', 'kubernetes', 'lambda', 'lium', 'remote', 'nebius', 'oci', 'runpod', 'seeweb', 'tensordock', 'vastai', 'verda', 'vultr' or 'slurm'";
    let mut bad_backend = c(&["backends"]);
    bad_backend.push(json!(1));
    assert_eq!(
        one(json!({"nodes": 1, "backends": ["aws", "foo"]})),
        [(bad_backend, backends.to_owned())]
    );
    assert_eq!(
        one(json!({"nodes": 1, "regions": "us"})),
        [(c(&["regions"]), "Input should be a valid list".to_owned())]
    );
    assert_eq!(
        one(json!({"nodes": 1, "backend_options": [{"type": "vastai"}, {"type": "vastai"}]})),
        [(
            c(&["backend_options"]),
            "Value error, backend_options contains duplicate entry for backend 'vastai'".to_owned()
        )]
    );
    let retry = one(json!({"nodes": 1, "retry": {"on_events": []}}));
    assert_eq!(
        retry[0],
        (
            c(&["retry", "function-after[_validate_fields(), ProfileRetry]"]),
            "Value error, `on_events` cannot be empty".to_owned()
        )
    );
    assert_eq!(retry[1], (c(&["retry", "bool"]), "Input should be a valid boolean".to_owned()));
    assert_eq!(
        one(json!({"nodes": {"min": 2, "target": 1}})),
        [(c(&["nodes"]), "Value error, target must not be be less than min".to_owned())]
    );
    assert_eq!(
        one(json!({"nodes": 1, "resources": {"gpu": "A100:H100"}})),
        [(c(&["resources", "gpu"]), "Value error, GPU spec name conflict: A100:H100".to_owned())]
    );
    let body = spec_of(json!({"nodes": 1, "resources": {"gpu": "A100:H100"}}));
    let Err(FleetSpecError::Invalid(found)) = FleetSpec::from_json(&body) else { panic!() };
    assert_eq!(
        found[0].to_json(&["body", "spec"]),
        json!({"type": "value_error", "loc": ["body", "spec", "configuration", "resources", "gpu"],
               "msg": "Value error, GPU spec name conflict: A100:H100", "input": "A100:H100"})
    );
    let profile = errors(json!({"configuration": {"nodes": 1}, "profile": {"max_duration": -1}}));
    assert_eq!(
        profile,
        [(
            loc(&["profile", "max_duration"]),
            "Value error, Duration cannot be negative".to_owned()
        )]
    );
}

#[test]
fn lax_values_read_as_pydantic_reads_them() {
    let spec = parse(
        json!({"nodes": 1, "name": 5, "max_price": "1.5", "retry": {"duration": "1h"}, "env": []}),
    );
    assert_eq!(spec.name(), Some("5"));
    assert_eq!(spec.configuration.max_price, Some(1.5));
    assert_eq!(
        spec.configuration.retry,
        Some(Retry::Policy { on_events: None, duration: Some(3600) })
    );
    assert_eq!(spec.configuration.to_json()["retry"], json!({"on_events": null, "duration": 3600}));
    let spec = parse(json!({"nodes": 1, "env": ["A=1", "B"]}));
    assert_eq!(spec.configuration.to_json()["env"], json!({"A": "1", "B": {"key": "B"}}));
    let env = |env: Value| errors(spec_of(json!({"nodes": 1, "env": env})));
    assert_eq!(
        env(json!(["A=1", "A=2"])),
        [(
            loc(&["configuration", "env"]),
            "Value error, Duplicate environment variable: A=2".to_owned()
        )]
    );
    let bad = env(json!(["1A=2"]));
    let mut pattern = loc(&["configuration", "env", "list[constrained-str]"]);
    pattern.push(json!(0));
    assert_eq!(
        bad[0],
        (pattern, "String should match pattern '^([a-zA-Z_][a-zA-Z0-9_]*)(=.*$|$)'".to_owned())
    );
    assert_eq!(
        bad[1],
        (
            loc(&["configuration", "env", "dict[str,union[str,EnvSentinel]]"]),
            "Input should be a valid dictionary".to_owned()
        )
    );
}

#[test]
fn specs_compare_as_models_not_as_text() {
    let a = parse(json!({"name": "ff", "nodes": 2, "max_price": 1}));
    let b =
        parse(json!({"name": "ff", "nodes": {"min": 2, "target": 2, "max": 2}, "max_price": 1.0}));
    assert!(a.same_as(&b));
    let c = parse(json!({"name": "ff", "nodes": 3, "max_price": 1}));
    assert!(!a.same_as(&c));
    let tags_a = parse(json!({"nodes": 1, "tags": {"a": "1", "b": "2"}}));
    let tags_b = parse(json!({"nodes": 1, "tags": {"b": "2", "a": "1"}}));
    assert!(tags_a.same_as(&tags_b));
}
