// Package s3remote is a remote.Transport on an S3 bucket or any
// S3-compatible store (MinIO, Ceph RGW, R2, …) that honours conditional
// writes: s3://bucket/prefix.
//
// # Configuration
//
// Credentials, region and profile come from the standard AWS environment
// variables and config files (config.LoadDefaultConfig); the region
// defaults to us-east-1 when none is configured. AWS_ENDPOINT_URL (or
// AWS_ENDPOINT_URL_S3, or endpoint_url in the config file) points at an
// S3-compatible store; with an endpoint set, requests use path-style
// addressing and send and check checksums only where the API requires
// them (many S3-compatible servers reject the SDK's default CRC32
// checksums), unless the environment variables
// AWS_REQUEST_CHECKSUM_CALCULATION / AWS_RESPONSE_CHECKSUM_VALIDATION say
// otherwise (the config-file settings of the same name are overridden).
//
// # Conditional writes
//
// PutIfAbsent is PutObject with If-None-Match: * (412 → remote.ErrExists).
// Content up to 1 MiB is read into memory first, so the SDK can retry the
// request; content up to Options.MultipartThreshold (64 MiB by default)
// streams from the caller's reader as the body of one PutObject and is
// never held in memory whole. A streamed body withholds its last bytes
// until the reader has ended cleanly, so a reader that fails (a
// verifying reader's hash error at EOF included), ends early or runs long
// aborts the request and nothing is stored; the SDK does not retry a
// streamed request. Larger content is uploaded in parts of
// Options.PartSize (16 MiB by default), one part in memory at a time, and
// published by CompleteMultipartUpload with If-None-Match: *, so a key
// that appeared meanwhile is never overwritten; a failed or refused
// upload is aborted. CompareAndSwap is PutObject with If-Match: ETAG, or
// If-None-Match: * to create (412 and 409 → remote.ErrConflict). ETags
// are the store's own.
//
// PutObject and UploadPart send their bodies as UNSIGNED-PAYLOAD: over a
// plain-http endpoint the SDK would otherwise hash every body with
// SHA-256 for the signature before sending it (over https it already
// sends them unsigned). The headers stay signed; the content is checked
// by package repo, which verifies every object it reads against its
// BLAKE3 ID. CompareAndSwap, whose ref documents no ID covers, keeps its
// signed payload (they are small). Where the SDK must checksum a body
// before sending it (request checksums asked for on a plain-http
// endpoint), it cannot stream one: PutIfAbsent then reads content up to
// the part size into memory and uploads anything larger in parts.
//
// # Ranged reads
//
// GetRange is GetObject with "Range: bytes=FIRST-LAST". The answer's
// Content-Range and Content-Length must name exactly that range; S3
// answers a range that runs past the end with the part that exists, and
// one that starts past it with InvalidRange (416): both are
// remote.ErrInvalidRange.
//
// The store must enforce these headers: AWS S3 does since 2024 (If-Match
// on PutObject since November 2024), as do current MinIO releases. A store
// that ignores them silently loses the compare-and-swap guarantee.
//
// # Errors
//
// Store errors are mapped once, in mapErr: NoSuchKey and 404 to
// remote.ErrNotFound, 403 and the credential errors to
// remote.ErrPermission, NoSuchBucket to ErrNoSuchBucket. A bare 404 from
// HeadObject cannot say whether the bucket or the key is missing; the
// first one is checked with HeadBucket.
//
// # Limits
//
// Delete is HeadObject then DeleteObject (S3 deletes of a missing key
// succeed), so two racing deletes of one key may both succeed. If the
// response to a conditional write is lost and the SDK retries it, the
// retry sees its own write and reports remote.ErrExists (PutIfAbsent) or
// remote.ErrConflict (CompareAndSwap) although the write happened; the
// caller then re-reads the key. Multipart uploads of a killed process
// stay in the bucket until aborted; an AbortIncompleteMultipartUpload
// lifecycle rule on the bucket removes them.
package s3remote
