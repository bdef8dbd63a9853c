"""Export and reply bundles: the files that carry ciphertext between the server and the
offline reviewer workstation. The formats are specified in ``securedrop_like/BUNDLES.md``;
this package is their one implementation (the server writes exports and reads replies, the
workstation reads exports and writes replies).

Both are POSIX tar files (pax format, deterministic headers) holding ``manifest.json``
first and then each ciphertext, in manifest order. Nothing in them is plaintext: every
member after the manifest is a crypto envelope, byte for byte as stored.

Memory stays bounded whatever the size: an export is written as a stream of ~64 KiB
pieces and read item by item through :class:`ItemStream`, which checks each item's size
and SHA-256 as it goes. Because the manifest comes first and lists every hash, an export
is made in two passes (:func:`plan_export` hashes items whose hash is not known, then the
writer streams them and hashes them again to catch a file that changed in between).

The modules: ``_validate`` (names, versions, limits, :class:`BundleError` and the strict
manifest checks both formats share), ``_tar`` (the tar container, written piece by piece
and read forward only), ``export`` (export bundles), ``replies`` (reply bundles) and
``publication`` (the signed ``sesim-publication`` file for the public map: canonical JSON,
not tar). Import from here: ``from securedrop_like import bundles``.
"""

from ._tar import BundleSummary

# The manifests' field names, for the test that holds BUNDLES.md to them.
from ._validate import _CONSENT_KEYS as _CONSENT_KEYS
from ._validate import _EXPORT_KEYS as _EXPORT_KEYS
from ._validate import _EXPORT_KEYS_V1 as _EXPORT_KEYS_V1
from ._validate import _ITEM_KEYS as _ITEM_KEYS
from ._validate import _REPLIES_KEYS as _REPLIES_KEYS
from ._validate import _REPLY_KEYS as _REPLY_KEYS
from ._validate import _RETRACTION_KEYS as _RETRACTION_KEYS
from ._validate import _SOURCE_KEYS as _SOURCE_KEYS
from ._validate import (
    BLOCK_SIZE,
    CONSENT_DECISIONS,
    EXPORT_FORMAT,
    EXPORT_VERSION,
    EXPORT_VERSIONS,
    ID_PATTERN,
    ITEM_KINDS,
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    MAX_TEXT_LENGTH,
    REPLIES_FORMAT,
    REPLIES_VERSION,
    BundleError,
    ReplyBindingError,
)
from .export import (
    ConsentDecision,
    ExportEntry,
    ExportItem,
    ExportManifest,
    ExportPlan,
    ExportReader,
    ExportSource,
    ExportSummary,
    ItemStream,
    Readable,
    RetractionEntry,
    RetractionLike,
    iter_export_chunks,
    plan_export,
    read_export,
    write_export,
)
from .publication import (
    MAX_PUBLICATION_BYTES,
    PUBLICATION_FORMAT,
    PUBLICATION_VERSION,
    ChainError,
    Publication,
    PublicEntry,
    PublicPoint,
    bundle_sha256,
    canonical_json,
    check_chain,
    parse_entry,
    parse_verify_key,
    read_publication,
    read_verify_key_file,
    verify_key_text,
    write_publication_bundle,
)
from .replies import ParsedReply, ReplyEntry, read_replies, write_replies

__all__ = [
    "BLOCK_SIZE",
    "CONSENT_DECISIONS",
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "EXPORT_VERSIONS",
    "ID_PATTERN",
    "ITEM_KINDS",
    "MANIFEST_NAME",
    "MAX_MANIFEST_BYTES",
    "MAX_TEXT_LENGTH",
    "REPLIES_FORMAT",
    "REPLIES_VERSION",
    "BundleError",
    "ReplyBindingError",
    "BundleSummary",
    "ConsentDecision",
    "ExportEntry",
    "ExportItem",
    "ExportManifest",
    "ExportPlan",
    "ExportReader",
    "ExportSource",
    "ExportSummary",
    "ItemStream",
    "ParsedReply",
    "Readable",
    "ReplyEntry",
    "RetractionEntry",
    "RetractionLike",
    "iter_export_chunks",
    "plan_export",
    "read_export",
    "read_replies",
    "write_export",
    "write_replies",
    "MAX_PUBLICATION_BYTES",
    "PUBLICATION_FORMAT",
    "PUBLICATION_VERSION",
    "PublicEntry",
    "Publication",
    "PublicPoint",
    "ChainError",
    "bundle_sha256",
    "canonical_json",
    "check_chain",
    "parse_entry",
    "parse_verify_key",
    "read_publication",
    "read_verify_key_file",
    "verify_key_text",
    "write_publication_bundle",
]
