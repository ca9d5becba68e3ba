//! Foca's custom-broadcast handler: decodes our broadcast items and applies them to the member
//! table, telling foca which ones are new and must be passed on.

use super::members::{lock, Shared};
use super::wire::{Id, Item, Key};

/// A broadcast item that does not decode; foca turns it into a dropped packet.
#[derive(Debug, thiserror::Error)]
#[error("gossip: malformed broadcast item: {0}")]
pub(crate) struct BadItem(postcard::Error);

/// Holds the table because foca has no getter for its handler; the task and readers share it.
pub(crate) struct Handler {
    /// The member table.
    pub(crate) table: Shared,
}

impl foca::BroadcastHandler<Id> for Handler {
    type Key = Key;
    type Error = BadItem;

    fn receive_item(&mut self, data: &[u8], sender: Option<&Id>) -> Result<Option<Key>, BadItem> {
        let item: Item = postcard::from_bytes(data).map_err(BadItem)?;
        Ok(lock(&self.table).apply_item(item, sender.is_none()))
    }
}

/// Encode an item for `Foca::add_broadcast`.
pub(crate) fn encode(item: &Item) -> Vec<u8> {
    // Encoding plain structs into a Vec cannot fail.
    postcard::to_allocvec(item).unwrap_or_default()
}
