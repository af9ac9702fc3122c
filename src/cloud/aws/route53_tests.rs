//! Route 53 record shapes and change comments; the calls themselves are
//! covered by the moto contract tests in `tests/aws/contract.rs`.

use super::*;

#[test]
fn comments_name_the_execution_and_fit_route53() {
    let fence = Fence {
        execution_id: "exec-7".into(),
        epoch: crate::model::Epoch { term: 3, index: 12 },
    };
    let want = Record {
        name: "api.emr-platform.com".into(),
        target: RecordTarget::Alias {
            dns_name: "dr-alb.us-west-2.elb.amazonaws.com".into(),
            hosted_zone_id: "Z1H1FL5HABSF5".into(),
        },
    };
    assert_eq!(
        comment(&want, &fence),
        "drctl execution exec-7 epoch 3.12: api.emr-platform.com -> dr-alb.us-west-2.elb.amazonaws.com"
    );
    let long = Fence {
        execution_id: "é".repeat(300),
        epoch: crate::model::Epoch::default(),
    };
    assert!(comment(&want, &long).len() <= COMMENT_MAX);
}

#[test]
fn records_round_trip_through_route53_shapes() {
    for want in [
        Record {
            name: "api.emr-platform.com".into(),
            target: RecordTarget::Alias {
                dns_name: "alb.us-east-1.elb.amazonaws.com".into(),
                hosted_zone_id: "Z35SXDOTRQ7X7K".into(),
            },
        },
        Record {
            name: "kafka.emr-platform.com".into(),
            target: RecordTarget::Cname {
                value: "b-1.kafka.example".into(),
                ttl: 60,
            },
        },
    ] {
        let set = to_record_set(&want).expect("valid record");
        assert_eq!(to_record(&set).expect("managed shape"), want);
    }
}

#[test]
fn plain_a_records_are_refused_with_a_clear_error() {
    let set = ResourceRecordSet::builder()
        .name("api.emr-platform.com.")
        .r#type(RrType::A)
        .ttl(60)
        .resource_records(
            ResourceRecord::builder()
                .value("10.0.0.1")
                .build()
                .expect("value"),
        )
        .build()
        .expect("valid set");
    let err = to_record(&set).expect_err("not an alias");
    assert_eq!(err.kind, ErrorKind::Fatal);
    assert!(err.message.contains("holds addresses"), "{err}");
}

#[test]
fn records_with_a_set_identifier_are_skipped_and_the_plain_one_is_found() {
    let failover = |id: &str, target: &str| {
        ResourceRecordSet::builder()
            .name("api.emr-platform.com.")
            .r#type(RrType::Cname)
            .set_identifier(id)
            .failover(aws_sdk_route53::types::ResourceRecordSetFailover::Primary)
            .ttl(60)
            .resource_records(
                ResourceRecord::builder()
                    .value(target)
                    .build()
                    .expect("value"),
            )
            .build()
            .expect("valid set")
    };
    let only_failover = [
        failover("use1", "a.example."),
        failover("usw2", "b.example."),
    ];
    assert!(managed_set(&only_failover, "api.emr-platform.com", RecordType::Cname).is_none());

    let plain = to_record_set(&Record {
        name: "api.emr-platform.com".into(),
        target: RecordTarget::Cname {
            value: "c.example".into(),
            ttl: 60,
        },
    })
    .expect("valid record");
    let mixed = [failover("use1", "a.example."), plain.clone()];
    let found = managed_set(&mixed, "api.emr-platform.com.", RecordType::Cname).expect("plain");
    assert_eq!(found, &plain);
    assert!(to_record(found).is_ok());
}
