//! The VM backends through the real server and the real `dstack` CLI: credential checks
//! through `create_yaml` and `dstack offer -b <type>`, each provider a stateful loopback fake
//! (`dstack_testkit::fakes`).

mod common;

use common::cli::{cli, cli_home, dstack, offers_json};
use dstack_testkit::fixtures;

/// One REST VM backend of the end-to-end test: its `config.yml` form with a key its fake
/// accepts and one it refuses, and the fields dstack names when it refuses.
struct VmBackend {
    backend: &'static str,
    good: String,
    bad: String,
    refused_field: &'static [&'static str],
}

fn vm_backend(backend: &'static str, creds: &str, good: &str, bad: &str) -> VmBackend {
    let yaml = |key: &str| format!("type: {backend}\ncreds: {}\n", creds.replace("KEY", key));
    VmBackend { backend, good: yaml(good), bad: yaml(bad), refused_field: &["creds", "api_key"] }
}

/// The REST VM backends through the real server and CLI: each one's credential check through
/// `create_yaml` (a refused key answers dstack's `invalid_credentials`, a good one creates the
/// backend), then `dstack offer -b <type> --json` lists that backend's offers. Every provider
/// is its stateful loopback fake (`dstack_testkit::fakes`), shaped from the provider's
/// published OpenAPI (DigitalOcean, Vultr, CloudRift) or Swagger (Hot Aisle), SDK (Verda) or
/// dstack's fixtures (Seeweb, JarvisLabs).
#[cfg(all(
    feature = "digitalocean",
    feature = "vultr",
    feature = "verda",
    feature = "cloudrift",
    feature = "seeweb",
    feature = "hotaisle",
    feature = "jarvislabs"
))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_vm_backends_are_checked_and_offer_through_the_real_cli() {
    use dstack_testkit::fakes::{
        cloudrift, digitalocean, hotaisle, jarvislabs, seeweb, verda, vultr,
    };
    let Some(cli) = cli() else { return };
    let digitalocean = digitalocean::start(&["do-good"], digitalocean::sizes()).await;
    let amd = digitalocean::start(&["amd-good"], digitalocean::sizes()).await;
    let vultr = vultr::start(&["vultr-good"], vultr::plans(), vultr::VDM).await;
    let availability: &[verda::Availability] =
        &[("FIN-01", false, &["1V100.6V"]), ("FIN-02", false, &["1H100.80S.30V"])];
    let verda = verda::start(&[("verda-id", "verda-good")], availability).await;
    let cloudrift = cloudrift::start(&["rift-good"], cloudrift::variants()).await;
    let seeweb = seeweb::start(&["seeweb-good"], seeweb::default_plans()).await;
    let hotaisle = hotaisle::start(&["ha-good"], &["dstack-team"]).await;
    let jarvislabs = jarvislabs::start(&["jl-good"]).await;

    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    fixtures::write_catalog(&catalog, "verda", verda::CATALOG_ROWS);
    fixtures::write_catalog(&catalog, "cloudrift", cloudrift::CATALOG_ROWS);
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let mut cmd = common::command(&state);
    cmd.env("GPUHUNT_CATALOG_DIR", &catalog)
        .env("DSTACK_DIGITALOCEAN_API_URL", digitalocean.url())
        .env("DSTACK_AMDDEVCLOUD_API_URL", amd.url())
        .env("DSTACK_VULTR_API_URL", vultr.url())
        .env("DSTACK_VERDA_API_URL", verda.url())
        .env("DSTACK_CLOUDRIFT_API_URL", cloudrift.url())
        .env("DSTACK_SEEWEB_API_URL", seeweb.url())
        .env("DSTACK_HOTAISLE_API_URL", hotaisle.url())
        .env("DSTACK_JARVISLABS_API_URL", jarvislabs.url());
    let server = common::run(cmd);
    let bearer = format!("Bearer {}", server.token);
    let create = |yaml: String| {
        let body = serde_json::json!({"config_yaml": yaml}).to_string();
        let bearer = bearer.clone();
        async move {
            let headers =
                [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
            common::http(
                server.addr,
                "POST",
                "/api/project/main/backends/create_yaml",
                &headers,
                &body,
            )
            .await
        }
    };

    let verda_creds = |kind: &str, secret: &str| {
        format!(
            "type: {kind}\ncreds: {{type: api_key, client_id: verda-id, client_secret: {secret}}}\n"
        )
    };
    let backends = [
        vm_backend("digitalocean", "{api_key: KEY}", "do-good", "do-bad"),
        vm_backend("amddevcloud", "{api_key: KEY}", "amd-good", "amd-bad"),
        vm_backend("vultr", "{type: api_key, api_key: KEY}", "vultr-good", "vultr-bad"),
        VmBackend {
            backend: "verda",
            good: verda_creds("verda", "verda-good"),
            bad: verda_creds("verda", "verda-bad"),
            refused_field: &["creds", "api_key"],
        },
        // The deprecated name: Verda's backend, at Verda's endpoint override.
        VmBackend {
            backend: "datacrunch",
            good: verda_creds("datacrunch", "verda-good"),
            bad: verda_creds("datacrunch", "verda-bad"),
            refused_field: &["creds", "api_key"],
        },
        vm_backend("cloudrift", "{type: api_key, api_key: KEY}", "rift-good", "rift-bad"),
        VmBackend {
            refused_field: &["creds", "api_token"],
            ..vm_backend("seeweb", "{type: api_token, api_token: KEY}", "seeweb-good", "seeweb-bad")
        },
        VmBackend {
            backend: "hotaisle",
            good: "type: hotaisle\nteam_handle: dstack-team\ncreds: {api_key: ha-good}\n"
                .to_owned(),
            bad: "type: hotaisle\nteam_handle: dstack-team\ncreds: {api_key: ha-bad}\n".to_owned(),
            refused_field: &["creds", "api_key"],
        },
        vm_backend("jarvislabs", "{api_key: KEY}", "jl-good", "jl-bad"),
    ];
    for backend in &backends {
        let refused = create(backend.bad.clone()).await;
        assert_eq!(refused.status, 400, "{}: {}", backend.backend, refused.body);
        let detail = &refused.json()["detail"][0];
        assert_eq!(detail["code"], "invalid_credentials", "{}: {detail}", backend.backend);
        assert_eq!(
            detail["fields"],
            serde_json::json!(backend.refused_field),
            "{}",
            backend.backend
        );
        if backend.backend == "digitalocean" {
            assert!(refused.body.contains("Invaild API key"), "dstack's typo: {}", refused.body);
        }
        let created = create(backend.good.clone()).await;
        assert_eq!(created.status, 200, "{}: {}", backend.backend, created.body);
    }

    let home = cli_home();
    let home = home.path();
    let url = format!("http://{}", server.addr);
    let added = dstack(
        &cli,
        home,
        &["project", "add", "--name", "main", "--url", &url, "--token", &server.token, "-y"],
    );
    assert!(added.status.success());
    for backend in &backends {
        let offers = offers_json(&cli, home, &["-b", backend.backend]);
        let listed = offers["offers"].as_array().unwrap();
        assert!(!listed.is_empty(), "{}: no offers: {offers}", backend.backend);
        for offer in listed {
            assert_eq!(offer["backend"], backend.backend, "{offer}");
            assert!(offer["price"].as_f64().unwrap() >= 0.0, "{offer}");
        }
    }
    // A GPU filter reaches each backend's listing: Verda's catalog has H100s, Vultr's not MI300X.
    let h100 = offers_json(&cli, home, &["-b", "verda", "--gpu", "H100"]);
    assert!(
        h100["offers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| { o["instance"]["resources"]["gpus"][0]["name"] == "H100" })
    );
    assert!(h100["total_offers"].as_u64().unwrap() > 0, "{h100}");
    for fake in [
        digitalocean.api.violations(),
        amd.api.violations(),
        vultr.api.violations(),
        cloudrift.api.violations(),
        hotaisle.violations(),
    ] {
        assert_eq!(fake, Vec::<String>::new());
    }
}
