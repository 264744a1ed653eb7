/* Encoded-image datasets: ImageNet-style class folders and packed files
 * (docs/packed-format.md).  A tb_dataset whose `images` is set holds no
 * pixels; the loader fetches each image's bytes here and decodes them. */
#ifndef TB_IMAGESET_H
#define TB_IMAGESET_H

#include "datasets/dataset.h" // uses: tb_split, tb_dataset

#include <stddef.h>
#include <stdint.h>

/* ---- packed files ------------------------------------------------------ */

#define TB_PACK_MAGIC "TBPACK\r\n"
#define TB_PACK_VERSION 1u
#define TB_PACK_HEADER 4096u      /* the header fills the first OS page */
#define TB_PACK_PAGE 4096u        /* JPEG records up to a page never straddle one */
#define TB_PACK_KIND_JPEG 1u
#define TB_PACK_KIND_RAW 2u

/* On disk little-endian, 24 bytes per image. */
typedef struct {
    uint64_t offset; /* from the start of the file */
    uint32_t size;
    int32_t label;
    uint16_t width, height;
    uint32_t reserved;
} tb_pack_entry;

typedef struct {
    char magic[8];
    uint32_t version, kind, classes, channels, height, width; /* height, width: raw records only */
    uint32_t page_size, flip_ok;
    float mean[3], std[3];
    char name[32];            /* the source dataset: imagenet, cifar10, ... */
    uint64_t count[2];        /* images per split: train, test */
    uint64_t index_offset[2]; /* where each split's index starts (page aligned) */
    uint64_t data_offset, data_size;
    uint32_t max_side, quality;
    uint64_t file_size;
} tb_pack_header;

typedef struct tb_pack tb_pack;
/* Maps the file and checks the header and every index entry. */
tb_pack *tb_pack_open(const char *path);
void tb_pack_close(tb_pack *p);
const tb_pack_header *tb_pack_info(const tb_pack *p);
const tb_pack_entry *tb_pack_index(const tb_pack *p, tb_split split);
const uint8_t *tb_pack_bytes(const tb_pack *p, const tb_pack_entry *e);

/* ---- image sets -------------------------------------------------------- */

typedef struct tb_imageset tb_imageset;

/* Class folders: DIR/train/CLASS/NAME.{jpg,jpeg,JPEG} (classes: the sorted
 * subfolder names of DIR/train, as torchvision's ImageFolder) and the same
 * under DIR/val.  limit > 0 keeps `limit` images spread evenly over the
 * split (so every class stays in).  Fills count, total, classes, channels
 * (3), labels and images of out; pixels stay NULL. */
int tb_imageset_load_folders(const char *dir, tb_split split, int limit, tb_dataset *out);
/* A packed file: raw packs load their pixels into memory (the dataset then
 * behaves as the one packed); JPEG packs read through mmap. */
int tb_imageset_load_packed(const char *path, tb_split split, int limit, tb_dataset *out);
void tb_imageset_free(tb_imageset *s);

/* The bytes of image i: a pointer into the mapped pack, or the file read
 * into *buf (grown as needed; free() it when done).  `what` receives a name
 * for messages (the file path, or "FILE image N"). */
int tb_imageset_get(const tb_imageset *s, int i, uint8_t **buf, size_t *cap, const uint8_t **data, size_t *size,
                    char *what, size_t what_size);
/* Class names (folders) or NULL (packs). */
const char *tb_imageset_class_name(const tb_imageset *s, int k);

#endif
