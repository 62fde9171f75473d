//! The codec of every service: prost's, except that a message that cannot
//! be decoded is the sender's error (INVALID_ARGUMENT), not INTERNAL.

use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// prost's codec with client-error decoding.
#[derive(Debug, Clone, Default)]
pub struct ClientErrorCodec<T, U>(ProstCodec<T, U>);

impl<T, U> Codec for ClientErrorCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ClientErrorDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.0.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        ClientErrorDecoder(self.0.decoder())
    }
}

/// Decodes with prost; undecodable bytes (bad wire format, invalid UTF-8
/// in a string) are INVALID_ARGUMENT.
#[derive(Debug)]
pub struct ClientErrorDecoder<U>(ProstDecoder<U>);

impl<U: prost::Message + Default> Decoder for ClientErrorDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(buf).map_err(|e| match e.code() {
            tonic::Code::Internal => {
                Status::invalid_argument(format!("the message cannot be decoded: {}", e.message()))
            }
            _ => e,
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
