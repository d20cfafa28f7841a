//! The fuzz pass's view of the server: descriptors fetched through server reflection, the error
//! codes the proto comments document, and calls that send raw bytes (any bytes, not only valid
//! messages) to any method by its path.

use std::collections::{BTreeMap, HashSet};

use prost::{
    Message as _,
    bytes::{Buf as _, BufMut as _},
};
use prost_reflect::{DescriptorPool, MethodDescriptor};
use prost_types::FileDescriptorProto;
use tonic::{
    Code, Request, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    transport::Channel,
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

use crate::CALL_TIMEOUT;

/// Every file the shop's services need, resolved through reflection (`FileContainingSymbol`
/// per service, then `FileByFilename` for imports not yet seen).
pub async fn descriptors(channel: Channel) -> DescriptorPool {
    let mut client = ServerReflectionClient::new(channel);
    let MessageResponse::ListServicesResponse(listed) =
        ask(&mut client, MessageRequest::ListServices(String::new())).await
    else {
        panic!("ListServices answered something else");
    };
    let mut files: BTreeMap<String, FileDescriptorProto> = BTreeMap::new();
    let mut wanted: Vec<MessageRequest> = listed
        .service
        .into_iter()
        .map(|service| MessageRequest::FileContainingSymbol(service.name))
        .collect();
    while let Some(request) = wanted.pop() {
        let MessageResponse::FileDescriptorResponse(found) = ask(&mut client, request).await else {
            panic!("reflection answered something else than files");
        };
        for bytes in found.file_descriptor_proto {
            let file = FileDescriptorProto::decode(bytes.as_slice()).expect("a file descriptor");
            for import in &file.dependency {
                if !files.contains_key(import) {
                    wanted.push(MessageRequest::FileByFilename(import.clone()));
                }
            }
            files.insert(file.name().to_owned(), file);
        }
    }
    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_protos(files.into_values())
        .expect("reflection serves a complete, consistent set of files");
    pool
}

async fn ask(
    client: &mut ServerReflectionClient<Channel>,
    request: MessageRequest,
) -> MessageResponse {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("the reflection service answers")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("a reflection answer")
        .expect("one answer per question");
    match answer.message_response.expect("an answer") {
        MessageResponse::ErrorResponse(error) => panic!("reflection refused: {error:?}"),
        answer => answer,
    }
}

/// The codes a comment's `Errors:` sentence names (up to its full stop), for the element at
/// `path` in `file` (a service or a method). A name that is no gRPC code fails the test: the
/// documentation must not lie either.
pub fn documented_codes(file: &FileDescriptorProto, path: &[i32]) -> HashSet<Code> {
    let Some(comment) = file
        .source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|location| location.path == path))
        .map(|location| location.leading_comments().to_owned())
    else {
        return HashSet::new();
    };
    let Some((_, after)) = comment.split_once("Errors:") else {
        return HashSet::new();
    };
    let sentence = after.split('.').next().unwrap_or_default();
    sentence
        .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .filter(|word| word.len() > 1)
        .map(|word| {
            (0..=16)
                .map(Code::from_i32)
                .find(|code| shop_api::grpc::error::code_name(*code) == word)
                .unwrap_or_else(|| panic!("`Errors:` names {word:?}, which is no gRPC code"))
        })
        .collect()
}

/// How one call ended.
#[derive(Debug)]
pub struct Outcome {
    pub code: Code,
    pub message: String,
    /// The first response message, when the call succeeded.
    pub body: Option<Vec<u8>>,
}

impl From<Status> for Outcome {
    fn from(status: Status) -> Self {
        Self {
            code: status.code(),
            message: status.message().to_owned(),
            body: None,
        }
    }
}

/// Sends `request` (zero, one or more raw messages) to `method` and reads the first answer; a
/// server stream is abandoned after its first message.
pub async fn call(
    channel: &Channel,
    method: &MethodDescriptor,
    request: Request<Vec<Vec<u8>>>,
) -> Outcome {
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name())
        .parse()
        .expect("a method path");
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    let unary = !method.is_server_streaming();
    let exchange = async {
        grpc.ready()
            .await
            .map_err(|error| Status::unavailable(error.to_string()))?;
        let request = request.map(tokio_stream::iter);
        let mut answers = grpc.streaming(request, path, RawCodec).await?.into_inner();
        let body = answers.message().await?;
        // A unary call ends after its message: its trailers hold the real status.
        if unary && body.is_some() && answers.message().await?.is_some() {
            return Err(Status::unknown("a unary method answered two messages"));
        }
        Ok(body)
    };
    match tokio::time::timeout(CALL_TIMEOUT, exchange).await {
        Ok(Ok(body)) => Outcome {
            code: if unary && body.is_none() {
                Code::Unknown
            } else {
                Code::Ok
            },
            message: if body.is_none() {
                "no response message".to_owned()
            } else {
                String::new()
            },
            body,
        },
        Ok(Err(status)) => status.into(),
        Err(_) => Outcome {
            code: Code::DeadlineExceeded,
            message: format!("no answer within {CALL_TIMEOUT:?}"),
            body: None,
        },
    }
}

/// Messages as the bytes they are: sent as given, received undecoded.
#[derive(Debug, Clone, Copy)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut bytes = vec![0; src.remaining()];
        src.copy_to_slice(&mut bytes);
        Ok(Some(bytes))
    }
}
