//! Invoices: signed by the merchant, a checksummed string a shopper can copy, verified on parse.

use alloy_primitives::{Address, B256};
use l2pay::invoice::{
    Invoice, InvoiceError, InvoiceRequest, MAX_DESCRIPTION, MAX_HUB_URL, MAX_INVOICE_CHARS,
};
use l2pay::op::payment_hash;
use l2pay::signer::{LocalSigner, Signer};

fn request(merchant: &LocalSigner) -> InvoiceRequest {
    InvoiceRequest {
        chain_id: 31337,
        amount: 12_340_000,
        token: Address::repeat_byte(0x70),
        payment_hash: payment_hash(&B256::repeat_byte(1)),
        expiry: 1_700_003_600,
        merchant: merchant.address(),
        hub_url: "ws://127.0.0.1:9944/ws".into(),
        description: "2 × coffee beans, 1 kg".into(),
    }
}

#[test]
fn round_trips_through_its_string_form() {
    let m = LocalSigner::from_bytes(&[9; 32]).unwrap();
    let inv = request(&m).sign(&m).unwrap();
    let s = inv.encode().unwrap();
    assert!(s.starts_with("l2pay1"), "{s}");
    assert!(s.len() < 400, "compact enough to paste: {} chars", s.len());
    assert_eq!(Invoice::decode(&s).unwrap(), inv);
    assert_eq!(Invoice::decode(&format!("  {s}\n")).unwrap(), inv);
}

#[test]
fn upper_case_invoices_decode_and_mixed_case_is_refused() {
    let m = LocalSigner::from_bytes(&[9; 32]).unwrap();
    let inv = request(&m).sign(&m).unwrap();
    let s = inv.encode().unwrap();
    // As a QR code in alphanumeric mode carries it.
    assert_eq!(Invoice::decode(&s.to_uppercase()).unwrap(), inv);
    let mixed = format!("L{}", &s[1..]);
    assert!(Invoice::decode(&mixed).is_err(), "mixed case is not bech32");
}

#[test]
fn a_mistyped_character_is_caught_by_the_checksum() {
    let m = LocalSigner::from_bytes(&[9; 32]).unwrap();
    let s = request(&m).sign(&m).unwrap().encode().unwrap();
    for i in [10, s.len() / 2, s.len() - 1] {
        let mut chars: Vec<char> = s.chars().collect();
        chars[i] = if chars[i] == 'q' { 'p' } else { 'q' };
        let typo: String = chars.into_iter().collect();
        assert!(
            matches!(Invoice::decode(&typo), Err(InvoiceError::Encoding(_))),
            "at {i}"
        );
    }
}

#[test]
fn forged_or_tampered_invoices_are_refused() {
    let m = LocalSigner::from_bytes(&[9; 32]).unwrap();
    let thief = LocalSigner::from_bytes(&[8; 32]).unwrap();
    // Signing for someone else's address is refused up front.
    assert!(matches!(
        request(&m).sign(&thief),
        Err(InvoiceError::Signature(_))
    ));
    // A thief who re-signs with its own key but keeps the merchant's address fails verification.
    let mut inv = request(&m).sign(&m).unwrap();
    inv.request.amount += 1;
    assert!(matches!(
        Invoice::decode(&inv.encode().unwrap()),
        Err(InvoiceError::Signature(_))
    ));
    let mut inv = request(&m).sign(&m).unwrap();
    inv.signature = thief.sign_digest(&inv.request.digest());
    assert!(matches!(
        Invoice::decode(&inv.encode().unwrap()),
        Err(InvoiceError::Signature(_))
    ));
}

#[test]
fn expiry_limits_and_garbage() {
    let m = LocalSigner::from_bytes(&[9; 32]).unwrap();
    let inv = request(&m).sign(&m).unwrap();
    assert!(inv.check_expiry(1_700_003_599_999).is_ok());
    assert_eq!(
        inv.check_expiry(1_700_003_600_000),
        Err(InvoiceError::Expired(1_700_003_600))
    );

    let mut long = request(&m);
    long.description = "x".repeat(MAX_DESCRIPTION + 1);
    assert!(matches!(
        long.sign(&m),
        Err(InvoiceError::FieldTooLong { .. })
    ));
    let mut zero = request(&m);
    zero.amount = 0;
    assert_eq!(zero.sign(&m), Err(InvoiceError::ZeroAmount));

    for junk in [
        "",
        "l2pay1",
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        "l2pay1qqqqqqqqqq",
        &"l2pay1".repeat(500),
    ] {
        assert!(Invoice::decode(junk).is_err(), "{junk:?}");
    }
}

#[test]
fn the_largest_valid_invoice_fits_its_string_form() {
    let m = LocalSigner::from_bytes(&[9; 32]).unwrap();
    let mut big = request(&m);
    big.chain_id = u64::MAX;
    big.amount = u128::MAX;
    big.expiry = u64::MAX;
    big.hub_url = "h".repeat(MAX_HUB_URL);
    // Multi-byte characters count by their UTF-8 bytes.
    big.description = "€".repeat(MAX_DESCRIPTION / 3) + &"x".repeat(MAX_DESCRIPTION % 3);
    assert_eq!(big.description.len(), MAX_DESCRIPTION);
    let inv = big.sign(&m).unwrap();
    let s = inv.encode().unwrap();
    assert!(s.len() <= MAX_INVOICE_CHARS, "{} chars", s.len());
    assert_eq!(Invoice::decode(&s).unwrap(), inv);
}

#[test]
fn an_oversized_invoice_built_by_hand_is_an_error_not_a_panic() {
    let m = LocalSigner::from_bytes(&[9; 32]).unwrap();
    let mut inv = request(&m).sign(&m).unwrap();
    // Past the field limit (the old limit of 640 bytes panicked in bech32 at ≥ 460).
    inv.request.description = "x".repeat(640);
    assert!(matches!(
        inv.encode(),
        Err(InvoiceError::FieldTooLong { .. })
    ));
}
