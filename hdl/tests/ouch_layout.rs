//! The gate's parser (RTL and golden model) reads OUCH 4.2 fields at fixed byte
//! offsets; they must be the ones the codec in `eti_core::ouch` writes.

use eti_core::ouch::{
    cancel_offsets, enter_offsets, replace_offsets, CancelOrder, EnterOrder, ReplaceOrder,
};
use eti_hdl::golden::offsets as gate;
use eti_hdl::regmap;

#[test]
fn gate_offsets_and_lengths_match_the_core_codec() {
    assert_eq!(regmap::ENTER_LEN, EnterOrder::LEN);
    assert_eq!(regmap::REPLACE_LEN, ReplaceOrder::LEN);
    assert_eq!(regmap::CANCEL_LEN, CancelOrder::LEN);
    assert_eq!(
        (EnterOrder::TYPE, ReplaceOrder::TYPE, CancelOrder::TYPE),
        (b'O', b'U', b'X')
    );
    assert_eq!(gate::ENTER_TOKEN, enter_offsets::TOKEN);
    assert_eq!(gate::ENTER_SIDE, enter_offsets::SIDE);
    assert_eq!(gate::ENTER_SHARES, enter_offsets::SHARES);
    assert_eq!(gate::ENTER_STOCK, enter_offsets::STOCK);
    assert_eq!(gate::ENTER_PRICE, enter_offsets::PRICE);
    assert_eq!(gate::ENTER_TIF, enter_offsets::TIME_IN_FORCE);
    assert_eq!(gate::ENTER_DISPLAY, enter_offsets::DISPLAY);
    assert_eq!(gate::ENTER_CAPACITY, enter_offsets::CAPACITY);
    assert_eq!(gate::REPLACE_NEW_TOKEN, replace_offsets::REPLACEMENT_TOKEN);
    assert_eq!(gate::REPLACE_SHARES, replace_offsets::SHARES);
    assert_eq!(gate::REPLACE_PRICE, replace_offsets::PRICE);
    assert_eq!(gate::REPLACE_TIF, replace_offsets::TIME_IN_FORCE);
    assert_eq!(gate::REPLACE_DISPLAY, replace_offsets::DISPLAY);
    assert_eq!(cancel_offsets::TOKEN, gate::ENTER_TOKEN);
}
