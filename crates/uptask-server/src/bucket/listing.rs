//! What the bucket holds, listed page by page: the objects under a prefix and the multipart
//! uploads still open, each with its time on the store's clock (ages are never judged against
//! this instance's clock, which may differ).

use std::time::Duration;

use uptask_proto::s3::{ListedObject, ListedUpload, list_objects, list_uploads};

use super::{Bucket, Payload, Reply};
use crate::error::ApiError;

/// Query pairs of a listing request.
type Query = Vec<(&'static str, String)>;

/// A whole listing, and the store's time when it answered.
#[derive(Debug)]
pub(crate) struct Listing<T> {
    pub(crate) items: Vec<T>,
    /// Unix seconds by the store's `Date`; `None` when it sent none.
    pub(crate) now: Option<u64>,
}

impl<T> Listing<T> {
    /// How long before the store's now a time from this listing lies (`None` when either is
    /// unknown: then nothing can be judged).
    pub(crate) fn age(&self, time: Option<u64>) -> Option<Duration> {
        Some(Duration::from_secs(self.now?.saturating_sub(time?)))
    }
}

impl Bucket {
    /// The objects under `prefix`, every page.
    pub(crate) async fn list(&self, prefix: &str) -> Result<Listing<ListedObject>, ApiError> {
        let base = vec![("list-type", "2".to_owned()), ("prefix", prefix.to_owned())];
        self.pages(base, |reply| {
            let page = reply.parsed(list_objects, "list objects")?;
            let next = page.next_token.map(|t| vec![("continuation-token", t)]);
            Ok((page.objects, next))
        })
        .await
    }

    /// The multipart uploads open under `prefix`, every page.
    pub(crate) async fn list_uploads(
        &self,
        prefix: &str,
    ) -> Result<Listing<ListedUpload>, ApiError> {
        let base = vec![("uploads", String::new()), ("prefix", prefix.to_owned())];
        self.pages(base, |reply| {
            let page = reply.parsed(list_uploads, "list multipart uploads")?;
            let next = page
                .next
                .map(|(key, id)| vec![("key-marker", key), ("upload-id-marker", id)]);
            Ok((page.uploads, next))
        })
        .await
    }

    /// Asks for `base` and then for each next page `read` names, until it names none.
    async fn pages<T>(
        &self,
        base: Query,
        read: impl Fn(&Reply) -> Result<(Vec<T>, Option<Query>), ApiError>,
    ) -> Result<Listing<T>, ApiError> {
        let mut listing = Listing {
            items: Vec::new(),
            now: None,
        };
        let mut more = Vec::new();
        loop {
            let mut query = base.clone();
            query.append(&mut more);
            let reply = self
                .call("GET", "", &query, Vec::new(), Payload::Empty)
                .await?;
            listing.now = listing.now.or_else(|| reply.date());
            let (items, next) = read(&reply)?;
            listing.items.extend(items);
            match next {
                Some(next) => more = next,
                None => return Ok(listing),
            }
        }
    }
}
