//! Plain HTTP requests (ureq, 5 s at most) to stubborn's admin endpoint:
//! the status and body of any answer, 2xx or not.

use std::net::SocketAddr;
use std::time::Duration;

/// `GET path` from `addr` (ureq): (status, body); any status, not only 2xx.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    http_request("GET", addr, path)
}

/// `METHOD path` (GET, POST, PUT or DELETE, no body) from `addr`: (status, body).
pub fn http_request(method: &str, addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let url = format!("http://{addr}{path}");
    let response = match method {
        "GET" => agent.get(url).call(),
        "POST" => agent.post(url).send_empty(),
        "PUT" => agent.put(url).send_empty(),
        "DELETE" => agent.delete(url).call(),
        other => panic!("http_request: method {other} not supported"),
    };
    let mut response = response.map_err(std::io::Error::other)?;
    let body = response.body_mut().read_to_string().map_err(std::io::Error::other)?;
    Ok((response.status().as_u16(), body))
}
