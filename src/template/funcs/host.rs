//! Functions that read the host: the environment (`env`, `mustEnv`, `envOrDefault`) and
//! go-sockaddr's basic address lookups (`sockaddr "GetPrivateIP"`).

use std::net::Ipv4Addr;

use gotmpl::FuncMap;

use super::{add, arg_str, string};
use crate::config::netaddr;

pub(super) fn register(map: &mut FuncMap) {
    add(map, "env", |args| {
        Ok(string(std::env::var(arg_str(args, 0)?).unwrap_or_default()))
    });
    add(map, "mustEnv", |args| {
        let name = arg_str(args, 0)?;
        match std::env::var(&name) {
            Ok(v) if !v.is_empty() => Ok(string(v)),
            _ => Err(format!("required environment variable {name} is empty")),
        }
    });
    add(map, "envOrDefault", |args| {
        let name = arg_str(args, 0)?;
        let default = arg_str(args, 1)?;
        Ok(string(std::env::var(name).unwrap_or(default)))
    });
    add(map, "sockaddr", |args| {
        let expr = args
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        sockaddr(expr.trim(), &netaddr::host_ipv4s()).map(string)
    });
}

/// The go-sockaddr expressions Berth answers, over the host's IPv4 addresses.
fn sockaddr(expr: &str, addrs: &[Ipv4Addr]) -> Result<String, String> {
    let private = |ip: &&Ipv4Addr| netaddr::pick(&[**ip]).is_some();
    let public = |ip: &&Ipv4Addr| !ip.is_loopback() && !ip.is_link_local() && !private(ip);
    let join = |v: Vec<&Ipv4Addr>| {
        v.iter()
            .map(|ip| ip.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    match expr {
        "GetPrivateIP" => Ok(addrs.iter().find(private).map(|ip| ip.to_string()).unwrap_or_default()),
        "GetPrivateIPs" => Ok(join(addrs.iter().filter(private).collect())),
        "GetPublicIP" => Ok(addrs.iter().find(public).map(|ip| ip.to_string()).unwrap_or_default()),
        "GetPublicIPs" => Ok(join(addrs.iter().filter(public).collect())),
        "GetAllIPs" => Ok(join(addrs.iter().collect())),
        other => Err(format!(
            "sockaddr: {other:?} is not supported by Berth (GetPrivateIP, GetPrivateIPs, GetPublicIP, GetPublicIPs, GetAllIPs are)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_basics() {
        let addrs: Vec<Ipv4Addr> = ["127.0.0.1", "172.17.0.1", "10.0.0.5", "203.0.113.9"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(sockaddr("GetPrivateIP", &addrs).unwrap(), "172.17.0.1");
        assert_eq!(
            sockaddr("GetPrivateIPs", &addrs).unwrap(),
            "172.17.0.1 10.0.0.5"
        );
        assert_eq!(sockaddr("GetPublicIP", &addrs).unwrap(), "203.0.113.9");
        assert!(sockaddr("GetInterfaceIP \"eth0\"", &addrs).is_err());
    }
}
