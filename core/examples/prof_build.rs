fn main() {
    let cluster = lbplay_core::synthetic::cluster(1000, 10);
    let rs = lbplay_core::kubeproxy::iptables::build(&cluster, "node-1").unwrap();
    println!("{}", rs.rule_count());
}
