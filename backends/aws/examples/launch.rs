//! Another Rust tool embedding `dstack-backend-aws`: lists the offers for some resources and,
//! with `--launch`, starts the cheapest one, waits for its address and (with `--terminate`)
//! terminates it again.
//!
//! ```text
//! cargo run -p dstack-backend-aws --example launch -- aws.yml --resources 'gpu: A10G' \
//!     [--ssh-key ~/.ssh/id_ed25519.pub] [--launch [--terminate]]
//! ```
//!
//! `aws.yml` is a backend as in dstack's `config.yml` (`type: aws`, `regions`, `creds`, ...).
//! Offers come from gpuhunt's catalog (`GPUHUNT_CATALOG_DIR` for a local copy). The AWS SDK
//! honours `AWS_ENDPOINT_URL`, so the same program runs against moto.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use dstack_backend_kit::BackendContext;
use dstack_catalog::{Catalog, Source};
use dstack_core::backend::{SshKeyPair, ValidationContext};
use dstack_core::config::BackendType;
use dstack_core::config::load::from_yaml;
use dstack_core::offers::{InstanceConfiguration, SshKey};
use dstack_core::resources::Requirements;
use dstack_core::{Registry, Secret};

struct Args {
    config: String,
    resources: String,
    ssh_key: Option<String>,
    launch: bool,
    terminate: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        config: String::new(),
        resources: "gpu: 0..".to_owned(),
        ssh_key: None,
        launch: false,
        terminate: false,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--resources" => parsed.resources = args.next().ok_or("--resources needs a value")?,
            "--ssh-key" => parsed.ssh_key = Some(args.next().ok_or("--ssh-key needs a file")?),
            "--launch" => parsed.launch = true,
            "--terminate" => parsed.terminate = true,
            _ if parsed.config.is_empty() && !arg.starts_with("--") => parsed.config = arg,
            _ => return Err(format!("unexpected argument `{arg}`")),
        }
    }
    if parsed.config.is_empty() {
        return Err(
            "usage: launch <aws.yml> [--resources YAML] [--ssh-key FILE] [--launch [--terminate]]"
                .to_owned(),
        );
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let text = std::fs::read_to_string(&args.config)?;
    let config = from_yaml(&text)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))?;
    let catalog = Arc::new(Catalog::new(Source::from_env(), None));
    let mut registry = Registry::new();
    dstack_backend_aws::register(&mut registry, &BackendContext::new(catalog));
    let configurator = registry.get(BackendType::Aws)?;
    configurator.validate_config(&config, &ValidationContext::default()).await?;
    let record = configurator.create_backend("example", config).await?;
    let compute = configurator.compute(&record).await?;

    let requirements = Requirements {
        resources: from_yaml(&args.resources).map_err(|errors| {
            errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
        })?,
        ..Default::default()
    };
    let offers = compute.offers(&requirements).await?;
    println!("{} offers; the cheapest:", offers.len());
    for offer in offers.iter().take(10) {
        println!(
            "  {:<16} {:<14} {:>9.4} $/h  {:?}  zones {:?}",
            offer.offer.instance.name,
            offer.offer.region,
            offer.offer.price,
            offer.availability,
            offer.availability_zones.as_deref().unwrap_or_default(),
        );
    }
    if !args.launch {
        return Ok(());
    }
    let offer = offers
        .iter()
        .find(|o| o.availability.is_available())
        .ok_or("no available offer to launch")?;
    let ssh_keys = match &args.ssh_key {
        Some(path) => vec![SshKey { public: std::fs::read_to_string(path)?.trim().to_owned() }],
        None => vec![],
    };
    // AWS starts the agent from user data: the project key pair is not needed to log in.
    let keys = SshKeyPair {
        public: ssh_keys.first().map(|k| k.public.clone()).unwrap_or_default(),
        private: Secret::new(""),
    };
    let instance = InstanceConfiguration {
        project_name: "example".to_owned(),
        instance_name: "launch".to_owned(),
        instance_id: "example-launch".to_owned(),
        ssh_keys,
        user: std::env::var("USER").unwrap_or_else(|_| "example".to_owned()),
        reservation: None,
        placement_group: None,
        tags: None,
    };
    let mut data = compute.create_instance(offer, &instance).await?;
    println!(
        "started {} ({}) in {}",
        data.instance_id,
        offer.offer.instance.name,
        data.availability_zone.as_deref().unwrap_or(&data.region)
    );
    for _ in 0..60 {
        compute.update_provisioning_data(&mut data, &keys).await?;
        if data.hostname.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    match &data.hostname {
        Some(host) => {
            println!("reachable at {}@{host}:{}", data.username, data.ssh_port.unwrap_or(22))
        }
        None => println!("no address yet; the instance is still starting"),
    }
    if args.terminate {
        compute.terminate_instance(&data.instance_id, &data.region, &data.backend_data).await?;
        println!("terminated {}", data.instance_id);
    }
    Ok(())
}
