//! Scenario: `[server] watch_config = true` (Kubernetes, where nothing
//! sends SIGHUP): an edit of the config file applies as a SIGHUP reload
//! would, and so does a ConfigMap-style update, where the file is a symlink
//! through `..data` and the `..data` symlink is swapped to a new directory
//! (docs/reference.md `[server] watch_config`).

use std::net::Ipv4Addr;
use std::os::unix::fs::symlink;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, Knot, Stubborn, wait};

const WEB: &str = "web.example.test.";

fn answers_from(stubborn: &Stubborn, ip: Ipv4Addr, what: &str) {
    wait::until(what, Duration::from_secs(4), || {
        (stubborn.ask(&Ask::new(WEB, RecordType::A)).ipv4s() == vec![ip]).then_some(())
    });
}

#[test]
fn an_edit_and_a_configmap_symlink_swap_reload_the_config() {
    let first = Knot::start("web 0 IN A 192.0.2.1");
    let second = Knot::start("web 0 IN A 192.0.2.2");
    let third = Knot::start("web 0 IN A 192.0.2.3");
    let stubborn = Stubborn::start(Config::new(&[first.server()]).set("server", "watch_config", "true"));
    answers_from(&stubborn, Ipv4Addr::new(192, 0, 2, 1), "answers from the first upstream");
    let with = |knot: &Knot| stubborn.config_text.replace(&first.server(), &knot.server());

    // An edit in place.
    std::fs::write(stubborn.config_path(), with(&second)).expect("edit the config");
    answers_from(&stubborn, Ipv4Addr::new(192, 0, 2, 2), "answers from the second upstream after the edit");

    // The ConfigMap layout: stubborn.toml -> ..data/stubborn.toml, ..data -> a versioned directory.
    let dir = stubborn.config_path().parent().expect("config dir").to_path_buf();
    for (version, knot) in [("v1", &second), ("v2", &third)] {
        std::fs::create_dir(dir.join(version)).expect("version dir");
        std::fs::write(dir.join(version).join("stubborn.toml"), with(knot)).expect("versioned config");
    }
    symlink("v1", dir.join("..data")).expect("..data link");
    symlink("..data/stubborn.toml", dir.join("link.tmp")).expect("file link");
    std::fs::rename(dir.join("link.tmp"), stubborn.config_path()).expect("the config becomes a link");
    std::thread::sleep(Duration::from_millis(1_500)); // the same content: a reload that changes nothing
    symlink("v2", dir.join("..data_tmp")).expect("new ..data link");
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).expect("swap ..data");
    answers_from(&stubborn, Ipv4Addr::new(192, 0, 2, 3), "answers from the third upstream after the symlink swap");
    assert!(stubborn.log().contains("config file changed; reloading"), "{}", stubborn.log());
}
