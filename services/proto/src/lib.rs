//! Generated code for the `repat.v1` API, and the codec it is generated
//! with. Modules mirror the proto packages so cross-package paths resolve.

pub mod codec;
pub mod json;

#[allow(clippy::all, missing_docs)]
pub mod google {
    pub mod r#type {
        tonic::include_proto!("google.r#type");
    }
}

#[allow(clippy::all, missing_docs)]
pub mod repat {
    pub mod v1 {
        tonic::include_proto!("repat.v1");
    }
}

pub use repat::v1;

/// The encoded `FileDescriptorSet` of the API, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/repat_descriptor.bin"));
