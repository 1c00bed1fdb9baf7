//! kube-proxy's chain names: a SHA-256 of the service-port name, in base32, cut to 16 characters.
//!
//! pkg/proxy/iptables/proxier.go, `portProtoHash` and `servicePortEndpointChainName` (v1.28–1.33):
//! `base32.StdEncoding.EncodeToString(sha256.Sum256([]byte(servicePortName + protocol)))[:16]`,
//! and for an endpoint the same over `servicePortName + protocol + endpoint` (`ip:port`).

use data_encoding::BASE32;
use sha2::{Digest, Sha256};

use crate::net::Proto;

/// The 16-character hash shared by KUBE-SVC-, KUBE-SVL-, KUBE-EXT- and KUBE-FW- chains.
pub fn port_proto_hash(service_port_name: &str, proto: Proto) -> String {
    hash16(&[service_port_name, proto.as_str()])
}

/// The 16-character hash of a KUBE-SEP- chain.
pub fn endpoint_hash(service_port_name: &str, proto: Proto, endpoint: &str) -> String {
    hash16(&[service_port_name, proto.as_str(), endpoint])
}

fn hash16(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    // Sixteen base32 characters are exactly the first ten bytes of the digest, so encoding only
    // those gives the same prefix as encoding all 32 and cutting (and needs no padding).
    BASE32.encode(&digest[..10])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, proto: Proto, endpoint: Option<&str>, expect: &str) {
        let got = match endpoint {
            Some(endpoint) => endpoint_hash(input, proto, endpoint),
            None => port_proto_hash(input, proto),
        };
        assert_eq!(got, expect, "hash of {input:?} {proto} {endpoint:?}");
    }

    /// Vectors from kube-proxy's own tests and from real clusters (spec/kube-proxy.md §1.3).
    #[test]
    fn known_chain_names() {
        check("ns1/svc1:p80", Proto::Tcp, None, "XPGD46QRK7WJZT7O");
        check("default/kubernetes:https", Proto::Tcp, None, "NPX46M4PTMTKRN6Y");
        check("kube-system/kube-dns:dns", Proto::Udp, None, "TCOU7JCQXEZGVUNU");
        check("kube-system/kube-dns:dns-tcp", Proto::Tcp, None, "ERIFXISQEP7F7OF4");
        check("default/web:http", Proto::Tcp, None, "CDGGSHYLG3RE2FKL");
        check("default/web", Proto::Tcp, None, "LOLE4ISW44XBNF3G");
        check("default/web:http", Proto::Tcp, Some("10.244.1.5:8080"), "AFGSLHOD2HFNCBX4");
        check("default/web:http", Proto::Tcp, Some("10.244.2.7:8080"), "2RIJ5GIYXEFH6G4D");
        check("default/web:http", Proto::Tcp, Some("10.244.3.9:8080"), "RBX5X5TOEG5GD3RO");
    }
}
