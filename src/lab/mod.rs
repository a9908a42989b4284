//! The lab: the seed's topology in network namespaces on this machine, for `lvsdeck lab` and
//! for the integration tests.

pub mod netns;
