//! The TLS fronts of `deploy/`, run for real in front of emea's two instances: nginx with
//! `deploy/nginx/callhook.conf` and `deploy/nginx/tls.conf` (a self-signed certificate made with
//! `openssl req`), and Caddy with `deploy/caddy/Caddyfile` (a certificate of Caddy's local
//! authority, so that no ACME server is asked). Notifications go through each like the platform's:
//! over TLS, the certificate checked against its authority for the front's host name, with the
//! platform's token and headers, to the bare webhook path and to a partition's callback path.
//!
//! The client is `openssl s_client` (xtask's own HTTP client has no TLS), and both fronts come from
//! Debian's packages (`openssl`, `caddy`), installed when missing.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{
    Cluster, PROCESS_WAIT, Platform, Process, Region, WEBHOOK_PATH, fill_in, free_port,
    front_values, run_nginx,
};
use crate::util::{ensure_debian_program, workspace_root};

/// The host name both fronts serve, and their certificates name.
const HOST: &str = "localhost";

/// nginx with `callhook.conf` listening with `ssl` and `tls.conf` beside it.
pub(super) fn nginx_tls(cluster: &Cluster, client: &mut Platform) -> Result<String> {
    need("openssl", &["version"], "openssl")?;
    let region = &cluster.regions[0];
    let dir = cluster.dir.0.join("tls-nginx");
    std::fs::create_dir_all(&dir)?;
    let certificate = self_signed_certificate(&dir)?;
    let port = free_port()?;
    let site = fill_in(
        "deploy/nginx/callhook.conf",
        &read("deploy/nginx/callhook.conf")?,
        &front_values(
            region.plan.name,
            format!("127.0.0.1:{port} ssl"),
            &region.instances,
        ),
    )?;
    let mut values = BTreeMap::new();
    values.insert("SERVER_NAME", HOST.to_owned());
    values.insert("TLS_DIR", dir.display().to_string());
    let tls = fill_in(
        "deploy/nginx/tls.conf",
        &read("deploy/nginx/tls.conf")?,
        &values,
    )?;
    let (site_path, tls_path) = (dir.join("site.conf"), dir.join("tls.conf"));
    std::fs::write(&site_path, site)?;
    std::fs::write(&tls_path, tls)?;
    let name = format!("{}-tls", region.plan.name);
    let _nginx = run_nginx(&dir, &name, &[tls_path, site_path])?;
    let exchanges = notifications_through(client, region, port, &certificate)?;
    Ok(format!("nginx -t passed; {exchanges}"))
}

/// Caddy with the Caddyfile imported under test-only global options: its own ports, its local
/// certificate authority instead of ACME, no admin endpoint, nothing installed into the system's
/// trust store, and every file in the cluster's folder.
pub(super) fn caddy(cluster: &Cluster, client: &mut Platform) -> Result<String> {
    need("openssl", &["version"], "openssl")?;
    need("caddy", &["version"], "caddy")?;
    let region = &cluster.regions[0];
    let dir = cluster.dir.0.join("tls-caddy");
    std::fs::create_dir_all(&dir)?;
    let (http_port, https_port) = (free_port()?, free_port()?);
    let data = dir.join("data");
    let main = format!(
        "{{\n\tadmin off\n\tskip_install_trust\n\tlocal_certs\n\tstorage file_system {data}\n\
         \thttp_port {http_port}\n\thttps_port {https_port}\n}}\n\nimport {site}\n",
        data = data.display(),
        site = workspace_root().join("deploy/caddy/Caddyfile").display(),
    );
    let main_path = dir.join("Caddyfile");
    std::fs::write(&main_path, main)?;
    let caddy_command = |verb: &str| {
        let mut command = Command::new("caddy");
        command
            .arg(verb)
            .arg("--config")
            .arg(&main_path)
            .args(["--adapter", "caddyfile"])
            .env("REGION", region.plan.name)
            .env("SERVER_NAME", HOST)
            .env("WEBHOOK_PATH", WEBHOOK_PATH)
            .env(
                "INSTANCE_0",
                format!("127.0.0.1:{}", region.instances[0].port),
            )
            .env(
                "INSTANCE_1",
                format!("127.0.0.1:{}", region.instances[1].port),
            )
            .env("HOME", &dir)
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("XDG_DATA_HOME", &data);
        command
    };
    let validated = caddy_command("validate")
        .output()
        .context("running caddy validate")?;
    if !validated.status.success() {
        bail!(
            "caddy validate refused deploy/caddy/Caddyfile:\n{}",
            String::from_utf8_lossy(&validated.stderr)
        );
    }
    let _caddy = Process::spawn("Caddy", caddy_command("run"), &dir.join("caddy.log"))?;
    let authority = data.join("pki/authorities/local/root.crt");
    let started = Instant::now();
    while !authority.is_file() {
        if started.elapsed() > PROCESS_WAIT {
            bail!("Caddy made no local authority in {PROCESS_WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let exchanges = notifications_through(client, region, https_port, &authority)?;
    Ok(format!("caddy validate passed; {exchanges}"))
}

/// Fails naming `program` when it is missing and Debian's `package` could not bring it.
fn need(program: &str, version_args: &[&str], package: &str) -> Result<()> {
    if ensure_debian_program(program, version_args, package, "the TLS fronts' checks") {
        Ok(())
    } else {
        bail!("{program} is not installed and could not be (Debian's package {package})")
    }
}

fn read(relative: &str) -> Result<String> {
    std::fs::read_to_string(workspace_root().join(relative))
        .with_context(|| format!("reading {relative}"))
}

/// A certificate for [`HOST`] and its key, as `tls.conf` names them in `dir`; the certificate is
/// its own authority.
fn self_signed_certificate(dir: &Path) -> Result<PathBuf> {
    let (certificate, key) = (
        dir.join(format!("{HOST}.crt")),
        dir.join(format!("{HOST}.key")),
    );
    let output = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", &format!("/CN={HOST}")])
        .args(["-addext", &format!("subjectAltName=DNS:{HOST}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .context("running openssl req")?;
    if !output.status.success() {
        bail!(
            "openssl req could not make a certificate:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(certificate)
}

/// A new call on the bare path and a callback on emea-0's path, each `202` and delivered (counted
/// by the final check); a partition the region does not have, `421` from the front.
fn notifications_through(
    client: &mut Platform,
    region: &Region,
    port: u16,
    authority: &Path,
) -> Result<String> {
    let started = Instant::now();
    loop {
        match https_post(
            client,
            region,
            port,
            authority,
            "/",
            &client.fresh_id("tls-wait"),
        ) {
            Ok(404) => break,
            Ok(status) => bail!("POST / through the front: expected 404, got {status}"),
            Err(error) if started.elapsed() > PROCESS_WAIT => {
                return Err(error.context(format!("the front on {port} never answered")));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let own = format!("{WEBHOOK_PATH}/{}", region.instances[0].partition);
    for path in [WEBHOOK_PATH, own.as_str()] {
        let id = client.fresh_id("tls");
        let status = https_post(client, region, port, authority, path, &id)?;
        if status != 202 {
            bail!("POST {path} over TLS: expected 202, got {status}");
        }
        client.acknowledged(region, &id);
    }
    let stray = format!("{WEBHOOK_PATH}/not-a-partition");
    let status = https_post(
        client,
        region,
        port,
        authority,
        &stray,
        &client.fresh_id("tls"),
    )?;
    if status != 421 {
        bail!("POST {stray} over TLS: expected 421, got {status}");
    }
    Ok(format!(
        "202 on {WEBHOOK_PATH} and {own}, 421 on {stray}, over TLS with the certificate checked \
         for {HOST}"
    ))
}

/// One POST of the platform's body to `path` over TLS with `openssl s_client`, which checks the
/// front's certificate against `authority` for [`HOST`]; the answer's status.
fn https_post(
    client: &Platform,
    region: &Region,
    port: u16,
    authority: &Path,
    path: &str,
    id: &str,
) -> Result<u16> {
    let token = client
        .tokens
        .get(region.plan.name)
        .context("no token for the region")?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json; charset=utf-8\r\nX-Microsoft-Skype-Message-ID: {id}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        client.body.len()
    )
    .into_bytes();
    request.extend_from_slice(&client.body);
    // `-quiet` keeps the connection open after the request until the front closes it, and
    // `timeout` bounds a front that never does.
    let mut child = Command::new("timeout")
        .arg("10")
        .arg("openssl")
        .args(["s_client", "-quiet", "-verify_return_error"])
        .args(["-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", HOST, "-verify_hostname", HOST])
        .arg("-CAfile")
        .arg(authority)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running openssl s_client")?;
    child
        .stdin
        .take()
        .context("no stdin for openssl s_client")?
        .write_all(&request)?;
    let output = child.wait_with_output()?;
    let answer = String::from_utf8_lossy(&output.stdout);
    let status = answer
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    status.with_context(|| {
        format!(
            "no HTTP answer over TLS from 127.0.0.1:{port}{path}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })
}
