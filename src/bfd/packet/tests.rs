use super::*;

fn up(my: u32, your: u32) -> Control {
    Control {
        diag: Diag::None,
        state: State::Up,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_disc: my,
        your_disc: your,
        desired_min_tx_us: 10_000,
        required_min_rx_us: 10_000,
        required_min_echo_rx_us: 0,
        auth: None,
    }
}

fn key() -> AuthKey {
    AuthKey {
        meticulous: false,
        key_id: 1,
        secret: b"secret".to_vec(),
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn encodes_the_mandatory_section_as_rfc_5880_lays_it_out() {
    let mut c = up(0x11223344, 0x55667788);
    c.diag = Diag::ControlDetectionTimeExpired;
    c.poll = true;
    let b = c.encode(None);
    assert_eq!(b.len(), 24);
    assert_eq!(b[0], 0x21, "version 1, diag 1");
    assert_eq!(b[1], 0xe0, "state Up, P");
    assert_eq!(&b[2..4], &[3, 24]);
    assert_eq!(&b[4..8], &[0x11, 0x22, 0x33, 0x44]);
    assert_eq!(&b[12..16], &10_000u32.to_be_bytes());
    assert_eq!(Control::decode(&b, None).unwrap(), c);
}

/// The hash computed independently (Python's hashlib over the packet with the zero-padded key
/// in the hash field, RFC 5880 §6.7.4).
#[test]
fn keyed_sha1_matches_an_independent_computation() {
    let want = unhex(
        "20c403341122334455667788000027100000271000000000\
         041c0100000000079992176eda870f274247bf50bb04edb804b449ee",
    );
    let c = up(0x11223344, 0x55667788);
    assert_eq!(c.encode(Some((&key(), 7))), want);
    let got = Control::decode(&want, Some(&key())).unwrap();
    assert_eq!(
        got.auth,
        Some(AuthSection {
            auth_type: 4,
            key_id: 1,
            seq: 7
        })
    );
}

#[test]
fn a_wrong_key_or_a_flipped_bit_fails_the_hash() {
    let b = up(1, 2).encode(Some((&key(), 9)));
    let other = AuthKey {
        secret: b"secreT".to_vec(),
        ..key()
    };
    assert_eq!(
        Control::decode(&b, Some(&other)),
        Err(DecodeError::AuthHash)
    );
    let mut flipped = b.clone();
    flipped[15] ^= 1;
    assert_eq!(
        Control::decode(&flipped, Some(&key())),
        Err(DecodeError::AuthHash)
    );
    let met = AuthKey {
        meticulous: true,
        ..key()
    };
    assert_eq!(
        Control::decode(&b, Some(&met)),
        Err(DecodeError::AuthType { got: 4, want: 5 })
    );
    assert_eq!(Control::decode(&b, None), Err(DecodeError::AuthUnexpected));
    assert_eq!(
        Control::decode(&up(1, 2).encode(None), Some(&key())),
        Err(DecodeError::AuthMissing)
    );
}

#[test]
fn the_session_free_reception_checks_drop_with_a_reason() {
    let good = up(1, 2).encode(None);
    let with = |i: usize, v: u8| {
        let mut b = good.clone();
        b[i] = v;
        b
    };
    assert_eq!(
        Control::decode(&good[..23], None),
        Err(DecodeError::Truncated(23))
    );
    assert_eq!(
        Control::decode(&with(0, 0x40), None),
        Err(DecodeError::Version(2))
    );
    assert!(matches!(
        Control::decode(&with(3, 30), None),
        Err(DecodeError::Length { field: 30, got: 24 })
    ));
    assert!(matches!(
        Control::decode(&with(3, 20), None),
        Err(DecodeError::Length { .. })
    ));
    assert_eq!(
        Control::decode(&with(2, 0), None),
        Err(DecodeError::DetectMultZero)
    );
    assert_eq!(
        Control::decode(&with(1, 0xc1), None),
        Err(DecodeError::Multipoint)
    );
    assert_eq!(
        Control::decode(&up(0, 2).encode(None), None),
        Err(DecodeError::MyDiscZero)
    );
    assert_eq!(
        Control::decode(&up(1, 0).encode(None), None),
        Err(DecodeError::YourDiscZero(State::Up))
    );
    let mut down = up(1, 0);
    down.state = State::Down;
    assert!(Control::decode(&down.encode(None), None).is_ok());
    // Trailing bytes beyond the length field (padding) are not part of the packet.
    let mut padded = good.clone();
    padded.extend_from_slice(&[0; 8]);
    assert!(Control::decode(&padded, None).is_ok());
}

#[test]
fn reserved_diagnostics_survive_a_round_trip() {
    for code in 0..32u8 {
        assert_eq!(Diag::from_code(code).code(), code);
    }
}

proptest::proptest! {
    #[test]
    fn decoding_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let _ = Control::decode(&bytes, None);
        let _ = Control::decode(&bytes, Some(&key()));
    }

    #[test]
    fn every_valid_packet_round_trips(
        my in 1u32.., your in proptest::num::u32::ANY, state in 0u8..4, diag in 0u8..32,
        poll in proptest::bool::ANY, mult in 1u8.., tx in proptest::num::u32::ANY,
        rx in proptest::num::u32::ANY, seq in proptest::num::u32::ANY, signed in proptest::bool::ANY,
    ) {
        let mut c = up(my, your);
        c.state = State::from_bits(state);
        if your == 0 {
            c.state = State::Down;
        }
        c.diag = Diag::from_code(diag);
        c.poll = poll;
        c.final_ = !poll;
        c.detect_mult = mult;
        c.desired_min_tx_us = tx;
        c.required_min_rx_us = rx;
        let k = key();
        let auth = signed.then_some((&k, seq));
        let b = c.encode(auth);
        let got = Control::decode(&b, signed.then_some(&k)).unwrap();
        c.auth = signed.then_some(AuthSection { auth_type: 4, key_id: 1, seq });
        proptest::prop_assert_eq!(got, c);
    }
}
