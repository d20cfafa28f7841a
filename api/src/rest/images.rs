//! Product images: staff upload (`multipart/form-data`), reorder and delete them; everyone
//! downloads those of the products they may see, each variant with its own long-lived URL.

use axum::{
    body::Body,
    extract::{Multipart, Path, State, multipart::MultipartRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use shop_core::{
    adapters::images::ImageRejection,
    app::{Actor, AppError, FieldErrors, ImageDownload, Page},
    config::MAX_IMAGE_BYTES,
    domain::{ImageId, ImageVariant, Product, ProductId, ProductImage, Role},
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    dto::{PageDto, ProductDto},
    error::{ApiError, ApiResult, ProblemDoc},
    extract::{ApiJson, MaybeSignedIn, SignedIn},
};
use crate::server::AppState;

/// The multipart field that carries the picture.
const IMAGE_FIELD: &str = "image";
/// Cached for a year and never revalidated: a variant's URL names its image, whose bytes never
/// change (a new upload is a new image).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// A stand-in (the original, sent while the variant is being made) or a hidden product's image.
const SHORT_LIVED: &str = "max-age=60";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_product_image))
        .routes(routes!(reorder_product_images))
        .routes(routes!(delete_product_image))
        .routes(routes!(list_product_images))
        .routes(routes!(download_product_image))
        // The configured limit is checked while the upload is read; this is only the ceiling
        // above which nothing is read at all.
        .layer(axum::extract::DefaultBodyLimit::max(
            MAX_IMAGE_BYTES + 64 * 1024,
        ))
}

/// One image of a product, with the URL of each size.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductImageDto {
    pub id: String,
    /// 0 for the first image; the order staff gave them.
    pub position: i64,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: String,
    /// Of the original, in pixels.
    pub width: u32,
    pub height: u32,
    /// The upload as it came.
    pub url: String,
    /// At most 800 px on the longer side.
    pub medium_url: String,
    /// At most 200 px on the longer side.
    pub thumbnail_url: String,
}

/// The URL of one size of an image (gRPC answers list the same).
pub fn variant_url(image: &ProductImage, variant: ImageVariant) -> String {
    format!(
        "/api/v1/products/{}/images/{}/{}",
        image.product_id,
        image.id,
        variant.as_str()
    )
}

impl From<ProductImage> for ProductImageDto {
    fn from(image: ProductImage) -> Self {
        Self {
            id: image.id.to_string(),
            position: image.position,
            content_type: image.format.content_type().to_owned(),
            width: image.width,
            height: image.height,
            url: variant_url(&image, ImageVariant::Original),
            medium_url: variant_url(&image, ImageVariant::Medium),
            thumbnail_url: variant_url(&image, ImageVariant::Thumbnail),
        }
    }
}

/// A page of products with their images, read with one more query for the whole page.
pub async fn page_with_images(
    state: &AppState,
    page: Page<Product>,
) -> ApiResult<PageDto<ProductDto>> {
    let ids: Vec<ProductId> = page.items.iter().map(|product| product.id).collect();
    let mut images = state.shop.images_of(&ids).await?;
    Ok(PageDto {
        items: page
            .items
            .into_iter()
            .map(|product| {
                let own = images.remove(&product.id).unwrap_or_default();
                ProductDto::from(product).with_images(own)
            })
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// One product with its images.
pub async fn product_with_images(state: &AppState, product: Product) -> ApiResult<ProductDto> {
    let own = state
        .shop
        .images_of(&[product.id])
        .await?
        .remove(&product.id)
        .unwrap_or_default();
    Ok(ProductDto::from(product).with_images(own))
}

fn product_id(raw: &str) -> Result<ProductId, ApiError> {
    ProductId::parse(raw).map_err(|error| ApiError::invalid_parameter("id", error.0))
}

fn image_id(raw: &str) -> Result<ImageId, ApiError> {
    ImageId::parse(raw).map_err(|error| ApiError::invalid_parameter("image_id", error.0))
}

/// Staff only, decided before a byte of the upload is read.
fn require_admin(actor: &Actor) -> ApiResult<()> {
    match actor {
        Actor::User {
            role: Role::Admin, ..
        }
        | Actor::System => Ok(()),
        _ => Err(AppError::Forbidden.into()),
    }
}

/// The form an upload is sent as.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ImageUpload {
    /// The picture: JPEG, PNG or WebP, judged by its content (not its name or declared type).
    #[schema(value_type = String, format = Binary)]
    image: Vec<u8>,
}

/// A picture's bytes, as an answer body.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct ImageBytes(Vec<u8>);

/// Reads the `image` field, refusing it as soon as it passes `max` bytes.
async fn read_image(mut form: Multipart, max: usize) -> ApiResult<Vec<u8>> {
    let malformed = |error: axum::extract::multipart::MultipartError| {
        ApiError::bad_request("malformed_multipart", error.body_text())
    };
    let mut image = None;
    while let Some(mut field) = form.next_field().await.map_err(malformed)? {
        // Other fields (a caption a form builder adds, say) are not ours to judge: skipped.
        if field.name() != Some(IMAGE_FIELD) {
            continue;
        }
        if image.is_some() {
            return Err(AppError::Validation(FieldErrors::single(
                IMAGE_FIELD,
                "send one picture per request",
            ))
            .into());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if bytes.len() + chunk.len() > max {
                return Err(AppError::from(ImageRejection::TooLarge {
                    size: bytes.len() + chunk.len(),
                    max,
                })
                .into());
            }
            bytes.extend_from_slice(&chunk);
        }
        image = Some(bytes);
    }
    image
        .ok_or_else(|| AppError::Validation(FieldErrors::single(IMAGE_FIELD, "is required")).into())
}

/// Add an image after the product's last one. The medium and thumbnail sizes are made shortly
/// after by the media worker; until then their URLs answer with the original.
#[utoipa::path(post, path = "/api/v1/admin/products/{id}/images", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "product id", format = Uuid)),
    request_body(content = ImageUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "stored; `Location` is the original's URL", body = ProductImageDto),
        (status = 400, description = "a malformed id or multipart body", body = ProblemDoc),
        (status = 404, description = "no such product", body = ProblemDoc),
        (status = 413, description = "larger than `SHOP_IMAGE_MAX_BYTES` (`image_too_large`)", body = ProblemDoc),
        (status = 415, description = "not multipart, or not a JPEG, PNG or WebP picture (`image_unsupported_type`)", body = ProblemDoc),
        (status = 422, description = "no `image` field (or two), too many pixels, a damaged picture, or the product has 20 images already", body = ProblemDoc),
    ))]
async fn upload_product_image(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let product_id = product_id(&id)?;
    require_admin(&actor)?;
    let form = form.map_err(|rejection| ApiError::BadRequest {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        code: "unsupported_media_type",
        detail: rejection.body_text(),
        field: None,
    })?;
    // Without storage nothing can be kept: say so before reading a byte of the body.
    let limits = state.shop.image_limits()?;
    let max = limits.max_bytes;
    let bytes = read_image(form, max).await?;
    let image = state
        .shop
        .add_product_image(&actor, product_id, bytes)
        .await?;
    let location = variant_url(&image, ImageVariant::Original);
    let mut response = (
        StatusCode::CREATED,
        axum::Json(ProductImageDto::from(image)),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderImagesRequest {
    /// Every image id of the product, each once, first image first.
    #[schema(max_items = 20)]
    image_ids: Vec<uuid::Uuid>,
}

/// Put the product's images in a new order.
#[utoipa::path(put, path = "/api/v1/admin/products/{id}/images/order", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "product id", format = Uuid)),
    request_body = ReorderImagesRequest,
    responses(
        (status = 200, description = "the images in their new order", body = Vec<ProductImageDto>),
        (status = 400, description = "a malformed id", body = ProblemDoc),
        (status = 404, description = "no such product", body = ProblemDoc),
        (status = 422, description = "`image_ids` does not name each of the product's images exactly once", body = ProblemDoc),
    ))]
async fn reorder_product_images(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReorderImagesRequest>,
) -> ApiResult<axum::Json<Vec<ProductImageDto>>> {
    let images = state
        .shop
        .reorder_product_images(
            &actor,
            product_id(&id)?,
            &body
                .image_ids
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )
        .await?;
    Ok(axum::Json(
        images.into_iter().map(ProductImageDto::from).collect(),
    ))
}

/// Delete one image and every size of it.
#[utoipa::path(delete, path = "/api/v1/admin/products/{id}/images/{image_id}", tag = "admin",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "product id", format = Uuid),
        ("image_id" = String, Path, description = "image id", format = Uuid),
    ),
    responses(
        (status = 204, description = "deleted"),
        (status = 400, description = "a malformed id", body = ProblemDoc),
        (status = 404, description = "no such image of this product", body = ProblemDoc),
    ))]
async fn delete_product_image(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path((id, image)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .shop
        .delete_product_image(&actor, product_id(&id)?, image_id(&image)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The images of a product, in order.
#[utoipa::path(get, path = "/api/v1/products/{id}/images", tag = "catalog",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "product id", format = Uuid)),
    responses(
        (status = 200, body = Vec<ProductImageDto>),
        (status = 400, description = "a malformed id", body = ProblemDoc),
        (status = 404, description = "no such product (or it is deactivated)", body = ProblemDoc),
    ))]
async fn list_product_images(
    State(state): State<AppState>,
    MaybeSignedIn(actor): MaybeSignedIn,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Vec<ProductImageDto>>> {
    let product = state
        .shop
        .get_product(&actor, &product_id(&id)?.to_string())
        .await?;
    Ok(axum::Json(
        product_with_images(&state, product).await?.images,
    ))
}

/// One size of one image. Answers carry a strong `ETag`; `If-None-Match` gets 304.
#[utoipa::path(get, path = "/api/v1/products/{id}/images/{image_id}/{variant}", tag = "catalog",
    security((), ("bearer" = [])),
    params(
        ("id" = String, Path, description = "product id", format = Uuid),
        ("image_id" = String, Path, description = "image id", format = Uuid),
        ("variant" = String, Path, description = "which size", example = "thumbnail",
            pattern = "^(original|medium|thumbnail)$"),
        ("If-None-Match" = Option<String>, Header, description = "an `ETag` received before"),
    ),
    responses(
        (status = 200, description = "the picture (`image/jpeg`, `image/png` or `image/webp`)",
            content((ImageBytes = "image/jpeg"), (ImageBytes = "image/png"), (ImageBytes = "image/webp"))),
        (status = 304, description = "not modified"),
        (status = 400, description = "a malformed id", body = ProblemDoc),
        (status = 404, description = "no such product, image or size", body = ProblemDoc),
    ))]
async fn download_product_image(
    State(state): State<AppState>,
    MaybeSignedIn(actor): MaybeSignedIn,
    Path((id, image, variant)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let product_id = product_id(&id)?;
    let image_id = image_id(&image)?;
    let variant = ImageVariant::parse(&variant).map_err(|_| AppError::NotFound("image size"))?;
    // Weak comparison (RFC 9110 §13.1.2): a proxy that compressed the answer sent `W/"…"`.
    let cached: Vec<String> = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/").to_owned())
        .collect();
    let download = state
        .shop
        .image_download(&actor, product_id, image_id, variant, &cached)
        .await?;
    Ok(image_response(download))
}

fn image_response(download: ImageDownload) -> Response {
    let cache = if download.is_final && download.public {
        IMMUTABLE
    } else if download.public {
        SHORT_LIVED
    } else {
        // A deactivated product's image, fetched by staff: never kept by shared caches.
        "private, max-age=60"
    };
    let mut response = match download.bytes {
        None => StatusCode::NOT_MODIFIED.into_response(),
        Some(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(download.content_type),
            );
            response
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(etag) = HeaderValue::from_str(&download.etag) {
        headers.insert(header::ETAG, etag);
    }
    response
}
