//! The SSH client against a real OpenSSH server on loopback (`dstack_testkit::sshd`):
//! the instance a backend logs into to start `dstack-shim`.

use std::time::{Duration, Instant};

use dstack_core::ssh::SshSettings;
use dstack_ssh::{Connection, HostKeyPolicy, SshError, Target, launcher_command, start_shim};
use dstack_testkit::sshd::{Sshd, free_port, key_pair};

/// Short enough for tests, long enough for a loaded CI machine.
fn settings(port: u16) -> SshSettings {
    SshSettings {
        connect_timeout: Duration::from_secs(5),
        connect_attempts: 3,
        retry_interval: Duration::from_millis(300),
        launch_timeout: Duration::from_secs(10),
        setup_timeout: Duration::from_secs(10),
        instance_port: Some(port),
        ..SshSettings::default()
    }
}

/// The provider says port 22; the settings send the client to the test server.
fn target(user: &str) -> Target {
    Target::new("127.0.0.1", 22, user)
}

#[tokio::test]
async fn the_launcher_reaches_sudo_exactly_after_the_setup() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let commands = vec!["mkdir -p /root/.dstack".to_owned(), "echo 'it''s' > /tmp/x".to_owned()];
    let host_key = start_shim(
        &target("ubuntu"),
        &keys.private,
        HostKeyPolicy::AcceptFirst,
        Some("sudo true && mkdir -p ~/.dstack"),
        &commands,
        &settings(sshd.port()),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    assert_eq!(host_key, sshd.host_key(), "the host key seen is returned for pinning");
    let script = commands.join(" && ");
    assert_eq!(
        sshd.await_sudo_calls(2),
        vec![vec!["true".to_owned()], vec!["sh".to_owned(), "-c".to_owned(), script]],
        "setup first, then the launcher's `sudo sh -c '<commands>'`, its quoting intact"
    );
    assert!(launcher_command(&commands).starts_with("nohup sudo sh -c "));
}

#[tokio::test]
async fn a_command_that_fails_gives_its_status_and_stderr() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let settings = settings(sshd.port());
    let connection =
        Connection::open(&target("ubuntu"), &keys.private, &HostKeyPolicy::AcceptFirst, &settings)
            .await
            .expect("logged in");
    let output = connection.exec("echo out; echo err >&2; exit 3", settings.launch_timeout).await;
    let output = output.expect("the command ran");
    assert_eq!(
        (output.exit_status, output.stdout.as_str(), output.stderr.as_str()),
        (Some(3), "out\n", "err\n")
    );
    let err = connection.check("echo 'no docker' >&2; exit 7", settings.launch_timeout).await;
    match err.expect_err("a non-zero exit is an error") {
        SshError::CommandFailed { exit_status: Some(7), stderr, .. } => {
            assert_eq!(stderr, "no docker");
        }
        other => panic!("{other:?}"),
    }
    let hanging = connection.exec("sleep 30", Duration::from_millis(500)).await;
    assert!(matches!(hanging, Err(SshError::Timeout { .. })), "{hanging:?}");
}

#[tokio::test]
async fn a_refused_key_is_reported_after_the_attempts() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let stranger = key_pair("stranger");
    let started = Instant::now();
    let result = Connection::open(
        &target("ubuntu"),
        &stranger.private,
        &HostKeyPolicy::AcceptFirst,
        &settings(sshd.port()),
    )
    .await;
    let err = result.expect_err("another key is refused");
    assert!(matches!(err, SshError::KeyRefused { .. }), "{err:?}");
    assert!(err.is_retryable(), "a booting instance may not have the key yet");
    assert!(started.elapsed() >= Duration::from_millis(600), "tried three times, 300 ms apart");
    assert!(!err.to_string().contains("PRIVATE KEY"), "no key in the message: {err}");
    assert!(sshd.sudo_calls().is_empty());
}

#[tokio::test]
async fn a_closed_port_is_unreachable_within_the_attempts() {
    let keys = key_pair("project");
    let started = Instant::now();
    let result = Connection::open(
        &target("ubuntu"),
        &keys.private,
        &HostKeyPolicy::AcceptFirst,
        &settings(free_port()),
    )
    .await;
    let err = result.expect_err("nothing listens");
    assert!(matches!(err, SshError::Unreachable { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "refused connects fail fast");
    let backend: dstack_core::BackendError = err.into();
    assert_eq!(backend.kind(), dstack_core::ErrorKind::Transient);
}

#[tokio::test]
async fn a_slow_boot_is_waited_for() {
    let keys = key_pair("project");
    let port = free_port();
    let public = keys.public.clone();
    let boot = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(400));
        Sshd::start_on(port, "ubuntu", &public)
    });
    let settings = SshSettings { connect_attempts: 20, ..settings(port) };
    let started = start_shim(
        &target("ubuntu"),
        &keys.private,
        HostKeyPolicy::AcceptFirst,
        None,
        &["true".to_owned()],
        &settings,
    )
    .await;
    let Some(sshd) = boot.await.expect("the boot") else { return };
    started.unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    assert_eq!(sshd.await_sudo_calls(1), vec![vec!["sh", "-c", "true"]]);
}

#[tokio::test]
async fn a_changed_host_key_is_refused() {
    let keys = key_pair("project");
    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let pinned = HostKeyPolicy::Known("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
    let result =
        Connection::open(&target("ubuntu"), &keys.private, &pinned, &settings(sshd.port())).await;
    match result.expect_err("another host key") {
        SshError::HostKeyChanged { seen, .. } => assert_eq!(seen, sshd.host_key()),
        other => panic!("{other:?}"),
    }
    let known = HostKeyPolicy::Known(sshd.host_key().to_owned());
    Connection::open(&target("ubuntu"), &keys.private, &known, &settings(sshd.port()))
        .await
        .expect("the pinned key is accepted");
}

#[tokio::test]
async fn an_unreadable_key_is_named_without_its_text() {
    let key = dstack_core::Secret::new("-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0\n");
    let result =
        Connection::open(&target("ubuntu"), &key, &HostKeyPolicy::AcceptFirst, &settings(1)).await;
    let err = result.expect_err("not a key");
    assert!(matches!(err, SshError::Key(_)), "{err:?}");
    assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
}

#[tokio::test]
async fn a_backend_learns_whether_the_shim_started_or_the_instance_is_not_up_yet() {
    let keys = key_pair("project");
    let commands = vec!["echo started".to_owned()];
    let closed = settings(free_port());
    let not_yet = dstack_ssh::start_shim_when_reachable(
        &target("ubuntu"),
        &keys,
        None,
        &commands,
        &SshSettings { connect_attempts: 1, ..closed },
    )
    .await;
    assert!(!not_yet.unwrap(), "a closed port is a booting instance, not an error");

    let Some(sshd) = Sshd::start("ubuntu", &keys.public) else { return };
    let settings = settings(sshd.port());
    let started =
        dstack_ssh::start_shim_when_reachable(&target("ubuntu"), &keys, None, &commands, &settings)
            .await;
    assert!(started.unwrap(), "{}", sshd.log());
    assert_eq!(
        sshd.await_sudo_calls(1),
        vec![vec!["sh".to_owned(), "-c".to_owned(), "echo started".to_owned()]]
    );

    let failing = dstack_ssh::start_shim_when_reachable(
        &target("ubuntu"),
        &keys,
        Some("exit 3"),
        &commands,
        &settings,
    )
    .await;
    let err = failing.unwrap_err();
    assert_eq!(err.kind(), dstack_core::ErrorKind::Transient, "a setup may pass later: {err}");
    assert!(err.message().contains("exit status 3"), "{err}");
}
