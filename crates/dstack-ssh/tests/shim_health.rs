//! The server's instance check against a real OpenSSH server on loopback
//! (`dstack_testkit::sshd`) and a fake `dstack-shim` (`dstack_testkit::FakeShim`): the
//! shim's healthcheck through an SSH tunnel to the instance's `localhost`.

use std::time::{Duration, Instant};

use dstack_core::ssh::SshSettings;
use dstack_ssh::{
    Connection, HostKeyPolicy, ShimHealth, ShimUnreachable, SshError, Target, shim_healthcheck,
};
use dstack_testkit::FakeShim;
use dstack_testkit::sshd::{Sshd, free_port, key_pair};

/// The test sshd for SSH, `shim_port` for the shim; short enough for tests.
fn settings(ssh_port: u16, shim_port: u16) -> SshSettings {
    SshSettings {
        connect_timeout: Duration::from_secs(5),
        connect_attempts: 2,
        retry_interval: Duration::from_millis(200),
        instance_port: Some(ssh_port),
        shim_port,
        shim_request_timeout: Duration::from_secs(5),
        ..SshSettings::default()
    }
}

fn target() -> Target {
    Target::new("127.0.0.1", 22, "ubuntu")
}

fn shown(sshd: &Sshd) -> String {
    format!("ubuntu@127.0.0.1:{}", sshd.port())
}

#[tokio::test]
async fn a_healthy_shim_gives_its_version_and_the_host_key() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let shim = FakeShim::start().await;
    let health = shim_healthcheck(
        &target(),
        &keys.private,
        HostKeyPolicy::AcceptFirst,
        &settings(sshd.port(), shim.port()),
    )
    .await;
    let expected =
        ShimHealth { version: "0.22.5".to_owned(), host_key: sshd.host_key().to_owned() };
    assert_eq!(health, Ok(expected), "{}", sshd.log());
    assert_eq!(shim.healthchecks(), 1);

    let pinned = HostKeyPolicy::Known(sshd.host_key().to_owned());
    let again =
        shim_healthcheck(&target(), &keys.private, pinned, &settings(sshd.port(), shim.port()))
            .await;
    assert_eq!(again.map(|h| h.version), Ok("0.22.5".to_owned()), "the pinned key is accepted");
    assert_eq!(shim.healthchecks(), 2);
}

#[tokio::test]
async fn a_shim_not_listening_is_a_refused_tunnel_at_once() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let port = free_port();
    let started = Instant::now();
    let result = shim_healthcheck(
        &target(),
        &keys.private,
        HostKeyPolicy::AcceptFirst,
        &settings(sshd.port(), port),
    )
    .await;
    let err = result.expect_err("nothing listens on the shim's port");
    assert_eq!(
        err,
        ShimUnreachable::NotListening {
            target: shown(&sshd),
            port,
            reason: "connect failed (nothing listens there)".to_owned(),
        }
    );
    assert!(started.elapsed() < Duration::from_secs(3), "not the request timeout");
    assert!(err.is_retryable(), "a shim may still be starting");
    assert_eq!(
        err.to_string(),
        format!(
            "dstack-shim is not listening on port {port} of {}: connect failed (nothing \
             listens there)",
            shown(&sshd)
        )
    );
}

#[tokio::test]
async fn a_stopped_shim_is_not_listening_any_more() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let shim = FakeShim::start().await;
    let settings = settings(sshd.port(), shim.port());
    let target = target();
    let up = shim_healthcheck(&target, &keys.private, HostKeyPolicy::AcceptFirst, &settings);
    assert!(up.await.is_ok());
    shim.stop().await;
    let down =
        shim_healthcheck(&target, &keys.private, HostKeyPolicy::AcceptFirst, &settings).await;
    assert!(matches!(down, Err(ShimUnreachable::NotListening { .. })), "{down:?}");
}

#[tokio::test]
async fn another_service_on_the_port_is_not_the_shim() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let shim = FakeShim::start().await;
    shim.answer_as("dstack-runner", "0.22.5");
    let result = shim_healthcheck(
        &target(),
        &keys.private,
        HostKeyPolicy::AcceptFirst,
        &settings(sshd.port(), shim.port()),
    )
    .await;
    let err = result.expect_err("another service");
    assert_eq!(
        err,
        ShimUnreachable::OtherService {
            target: shown(&sshd),
            service: "dstack-runner".to_owned(),
            version: "0.22.5".to_owned(),
        }
    );
    assert_eq!(
        err.to_string(),
        format!("unexpected service on {}: dstack-runner version: 0.22.5", shown(&sshd))
    );
    assert_eq!(shim.healthchecks(), 1);
}

#[tokio::test]
async fn a_failing_shim_gives_its_status() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let shim = FakeShim::start().await;
    shim.fail_with(500);
    let settings = settings(sshd.port(), shim.port());
    let result =
        shim_healthcheck(&target(), &keys.private, HostKeyPolicy::AcceptFirst, &settings).await;
    assert_eq!(
        result,
        Err(ShimUnreachable::Status { target: shown(&sshd), status: 500, body: String::new() })
    );
    shim.healthy();
    let healed =
        shim_healthcheck(&target(), &keys.private, HostKeyPolicy::AcceptFirst, &settings).await;
    assert_eq!(healed.map(|h| h.version), Ok("0.22.5".to_owned()));
    assert_eq!(shim.healthchecks(), 2);
}

#[tokio::test]
async fn an_instance_that_refuses_the_key_is_an_ssh_failure() {
    let keys = key_pair("project");
    let stranger = key_pair("stranger");
    let Some(sshd) = Sshd::start("ubuntu", &stranger.public) else { return };
    let shim = FakeShim::start().await;
    let result = shim_healthcheck(
        &target(),
        &keys.private,
        HostKeyPolicy::AcceptFirst,
        &settings(sshd.port(), shim.port()),
    )
    .await;
    assert_eq!(result, Err(ShimUnreachable::Ssh(SshError::KeyRefused { target: shown(&sshd) })));
    assert_eq!(shim.healthchecks(), 0, "no tunnel without a login");
    let err = result.unwrap_err();
    assert!(!err.to_string().contains("PRIVATE KEY"), "{err}");
}

#[tokio::test]
async fn a_changed_host_key_is_an_ssh_failure() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let shim = FakeShim::start().await;
    let pinned = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned();
    let result = shim_healthcheck(
        &target(),
        &keys.private,
        HostKeyPolicy::Known(pinned.clone()),
        &settings(sshd.port(), shim.port()),
    )
    .await;
    assert_eq!(
        result,
        Err(ShimUnreachable::Ssh(SshError::HostKeyChanged {
            target: shown(&sshd),
            expected: pinned,
            seen: sshd.host_key().to_owned(),
        }))
    );
    assert!(!result.unwrap_err().is_retryable());
}

/// `http_get` itself: any path, any status, a body as the server sent it.
#[tokio::test]
async fn http_get_reads_any_answer_through_the_tunnel() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let shim = FakeShim::start().await;
    let settings = settings(sshd.port(), shim.port());
    let connection =
        Connection::open(&target(), &keys.private, &HostKeyPolicy::AcceptFirst, &settings)
            .await
            .expect("logged in");
    let timeout = Duration::from_secs(5);
    let answer = connection.http_get("127.0.0.1", shim.port(), "/api/healthcheck", timeout).await;
    let answer = answer.expect("an answer");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("Content-Type"), Some("application/json"));
    assert_eq!(answer.text(), "{\"service\":\"dstack-shim\",\"version\":\"0.22.5\"}\n");
    let missing = connection.http_get("localhost", shim.port(), "/api/nothing", timeout).await;
    let missing = missing.expect("an answer");
    assert_eq!((missing.status, missing.text().as_str()), (404, "404 page not found\n"));
    let bad = connection.http_get("localhost", shim.port(), "api\r\nX: 1", timeout).await;
    assert!(matches!(bad, Err(SshError::Http { .. })), "{bad:?}");
    let closed = connection.http_get("127.0.0.1", free_port(), "/", timeout).await;
    assert!(matches!(closed, Err(SshError::TunnelRefused { .. })), "{closed:?}");
    connection.close().await;
}

/// A peer that takes the request and never answers: the request timeout, not a hang.
#[tokio::test]
async fn a_silent_shim_times_out() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("its address").port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let settings = SshSettings {
        shim_request_timeout: Duration::from_millis(500),
        ..settings(sshd.port(), port)
    };
    let started = Instant::now();
    let result =
        shim_healthcheck(&target(), &keys.private, HostKeyPolicy::AcceptFirst, &settings).await;
    assert_eq!(
        result,
        Err(ShimUnreachable::Timeout { target: shown(&sshd), after: Duration::from_millis(500) })
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(
        result.unwrap_err().to_string(),
        format!("dstack-shim on {} did not answer its healthcheck within 500ms", shown(&sshd))
    );
    silent.abort();
}
