/* SPDX-License-Identifier: MIT */
/*
 * Decoding for messages: sense data (SPC-5 4.4, fixed and descriptor
 * formats), sense keys and the common additional sense codes (SPC-5
 * annex F has the full list), SRB and SCSI status names, and the one-line
 * result and retry summaries the programs print.
 */
#include <string.h>
#include <glib.h>
#include "guest-tests/lib/cls.h"
#include <storport.h>

bool cls_sense_parse(const uint8_t *s, unsigned len, uint8_t *key, uint8_t *asc,
                     uint8_t *ascq)
{
    uint8_t code;

    *key = *asc = *ascq = 0;
    if (!s || len < 1) {
        return false;
    }
    code = s[0] & 0x7f;
    if (code == SCSI_SENSE_ERRORCODE_FIXED_CURRENT ||
        code == SCSI_SENSE_ERRORCODE_FIXED_DEFERRED) {
        if (len < 3) {
            return false;
        }
        *key = s[2] & 0x0f;
        /* ASC/ASCQ exist only if the additional length covers them. */
        if (len >= 14 && s[7] >= 6) {
            *asc = s[12];
            *ascq = s[13];
        }
        return true;
    }
    if (code == SCSI_SENSE_ERRORCODE_DESCRIPTOR_CURRENT ||
        code == SCSI_SENSE_ERRORCODE_DESCRIPTOR_DEFERRED) {
        if (len < 4) {
            return false;
        }
        *key = s[1] & 0x0f;
        *asc = s[2];
        *ascq = s[3];
        return true;
    }
    return false;
}

const char *cls_sense_key_name(uint8_t key)
{
    static const char *const names[16] = {
        "NO SENSE",        "RECOVERED ERROR", "NOT READY",
        "MEDIUM ERROR",    "HARDWARE ERROR",  "ILLEGAL REQUEST",
        "UNIT ATTENTION",  "DATA PROTECT",    "BLANK CHECK",
        "VENDOR SPECIFIC", "COPY ABORTED",    "ABORTED COMMAND",
        "EQUAL",           "VOLUME OVERFLOW", "MISCOMPARE",
        "COMPLETED",
    };
    return names[key & 0x0f];
}

typedef struct AscName {
    uint8_t asc, ascq;
    const char *name;
} AscName;

/* ASCQ 0xff in the table matches every ASCQ of that ASC. */
static const AscName asc_names[] = {
    {0x00, 0x00, "NO ADDITIONAL SENSE INFORMATION"},
    {0x04, 0x00, "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE"},
    {0x04, 0x01, "LOGICAL UNIT IS IN PROCESS OF BECOMING READY"},
    {0x04, 0x02, "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED"},
    {0x04, 0x03, "LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED"},
    {0x04, 0x04, "LOGICAL UNIT NOT READY, FORMAT IN PROGRESS"},
    {0x08, 0x00, "LOGICAL UNIT COMMUNICATION FAILURE"},
    {0x0c, 0x00, "WRITE ERROR"},
    {0x11, 0x00, "UNRECOVERED READ ERROR"},
    {0x14, 0x01, "RECORD NOT FOUND"},
    {0x1a, 0x00, "PARAMETER LIST LENGTH ERROR"},
    {0x1d, 0x00, "MISCOMPARE DURING VERIFY OPERATION"},
    {0x20, 0x00, "INVALID COMMAND OPERATION CODE"},
    {0x21, 0x00, "LOGICAL BLOCK ADDRESS OUT OF RANGE"},
    {0x24, 0x00, "INVALID FIELD IN CDB"},
    {0x25, 0x00, "LOGICAL UNIT NOT SUPPORTED"},
    {0x26, 0x00, "INVALID FIELD IN PARAMETER LIST"},
    {0x27, 0x00, "WRITE PROTECTED"},
    {0x28, 0x00, "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED"},
    {0x29, 0x00, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"},
    {0x29, 0x01, "POWER ON OCCURRED"},
    {0x29, 0x02, "SCSI BUS RESET OCCURRED"},
    {0x29, 0x03, "BUS DEVICE RESET FUNCTION OCCURRED"},
    {0x29, 0x04, "DEVICE INTERNAL RESET"},
    {0x2a, 0x01, "MODE PARAMETERS CHANGED"},
    {0x2a, 0x09, "CAPACITY DATA HAS CHANGED"},
    {0x2f, 0x00, "COMMANDS CLEARED BY ANOTHER INITIATOR"},
    {0x3a, 0x00, "MEDIUM NOT PRESENT"},
    {0x3f, 0x0e, "REPORTED LUNS DATA HAS CHANGED"},
    {0x44, 0x00, "INTERNAL TARGET FAILURE"},
    {0x47, 0x00, "SCSI PARITY ERROR"},
    {0x4e, 0x00, "OVERLAPPED COMMANDS ATTEMPTED"},
    {0x55, 0x03, "INSUFFICIENT RESOURCES"},
    {0x5d, 0xff, "FAILURE PREDICTION THRESHOLD EXCEEDED"},
};

const char *cls_asc_name(uint8_t asc, uint8_t ascq)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(asc_names); i++) {
        if (asc_names[i].asc == asc &&
            (asc_names[i].ascq == ascq || asc_names[i].ascq == 0xff)) {
            return asc_names[i].name;
        }
    }
    return NULL;
}

const char *cls_srb_status_name(uint8_t srb_status)
{
    switch (SRB_STATUS(srb_status)) {
    case SRB_STATUS_PENDING:
        return "PENDING";
    case SRB_STATUS_SUCCESS:
        return "SUCCESS";
    case SRB_STATUS_ABORTED:
        return "ABORTED";
    case SRB_STATUS_ABORT_FAILED:
        return "ABORT_FAILED";
    case SRB_STATUS_ERROR:
        return "ERROR";
    case SRB_STATUS_BUSY:
        return "BUSY";
    case SRB_STATUS_INVALID_REQUEST:
        return "INVALID_REQUEST";
    case SRB_STATUS_INVALID_PATH_ID:
        return "INVALID_PATH_ID";
    case SRB_STATUS_NO_DEVICE:
        return "NO_DEVICE";
    case SRB_STATUS_TIMEOUT:
        return "TIMEOUT";
    case SRB_STATUS_SELECTION_TIMEOUT:
        return "SELECTION_TIMEOUT";
    case SRB_STATUS_COMMAND_TIMEOUT:
        return "COMMAND_TIMEOUT";
    case SRB_STATUS_MESSAGE_REJECTED:
        return "MESSAGE_REJECTED";
    case SRB_STATUS_BUS_RESET:
        return "BUS_RESET";
    case SRB_STATUS_PARITY_ERROR:
        return "PARITY_ERROR";
    case SRB_STATUS_REQUEST_SENSE_FAILED:
        return "REQUEST_SENSE_FAILED";
    case SRB_STATUS_NO_HBA:
        return "NO_HBA";
    case SRB_STATUS_DATA_OVERRUN:
        return "DATA_OVERRUN";
    case SRB_STATUS_UNEXPECTED_BUS_FREE:
        return "UNEXPECTED_BUS_FREE";
    case SRB_STATUS_PHASE_SEQUENCE_FAILURE:
        return "PHASE_SEQUENCE_FAILURE";
    case SRB_STATUS_BAD_SRB_BLOCK_LENGTH:
        return "BAD_SRB_BLOCK_LENGTH";
    case SRB_STATUS_REQUEST_FLUSHED:
        return "REQUEST_FLUSHED";
    case SRB_STATUS_INVALID_LUN:
        return "INVALID_LUN";
    case SRB_STATUS_INVALID_TARGET_ID:
        return "INVALID_TARGET_ID";
    case SRB_STATUS_BAD_FUNCTION:
        return "BAD_FUNCTION";
    case SRB_STATUS_ERROR_RECOVERY:
        return "ERROR_RECOVERY";
    case SRB_STATUS_NOT_POWERED:
        return "NOT_POWERED";
    case SRB_STATUS_LINK_DOWN:
        return "LINK_DOWN";
    case SRB_STATUS_INSUFFICIENT_RESOURCES:
        return "INSUFFICIENT_RESOURCES";
    case SRB_STATUS_THROTTLED_REQUEST:
        return "THROTTLED_REQUEST";
    case SRB_STATUS_INTERNAL_ERROR:
        return "INTERNAL_ERROR";
    default:
        return "UNKNOWN";
    }
}

const char *cls_scsi_status_name(uint8_t scsi_status)
{
    switch (scsi_status) {
    case SCSISTAT_GOOD:
        return "GOOD";
    case SCSISTAT_CHECK_CONDITION:
        return "CHECK CONDITION";
    case SCSISTAT_CONDITION_MET:
        return "CONDITION MET";
    case SCSISTAT_BUSY:
        return "BUSY";
    case SCSISTAT_INTERMEDIATE:
        return "INTERMEDIATE";
    case SCSISTAT_INTERMEDIATE_COND_MET:
        return "INTERMEDIATE-CONDITION MET";
    case SCSISTAT_RESERVATION_CONFLICT:
        return "RESERVATION CONFLICT";
    case SCSISTAT_COMMAND_TERMINATED:
        return "COMMAND TERMINATED";
    case SCSISTAT_QUEUE_FULL:
        return "TASK SET FULL";
    case 0x30:
        return "ACA ACTIVE";
    case 0x40:
        return "TASK ABORTED";
    default:
        return "UNKNOWN";
    }
}

const char *cls_retry_cause_name(ClsRetryCause c)
{
    static const char *const names[CLS_RETRY_CAUSES] = {
        [CLS_RETRY_UNIT_ATTENTION] = "unit-attention",
        [CLS_RETRY_NOT_READY] = "not-ready",
        [CLS_RETRY_SRB_BUSY] = "srb-busy",
        [CLS_RETRY_SCSI_BUSY] = "scsi-busy",
        [CLS_RETRY_QUEUE_FULL] = "queue-full",
        [CLS_RETRY_ABORTED] = "aborted",
        [CLS_RETRY_BUS_RESET] = "bus-reset",
        [CLS_RETRY_TIMEOUT] = "timeout",
    };
    return c < CLS_RETRY_CAUSES ? names[c] : "?";
}

const char *cls_op_name(ClsOp op)
{
    switch (op) {
    case CLS_READ:
        return "read";
    case CLS_WRITE:
        return "write";
    case CLS_FLUSH:
        return "flush";
    case CLS_UNMAP:
        return "unmap";
    case CLS_RAW:
        return "raw";
    }
    return "?";
}

const char *cls_result_str(const ClsResult *r, char *buf, size_t n)
{
    const char *asc;

    switch (r->status) {
    case CLS_OK:
        g_snprintf(buf, n, "ok");
        break;
    case CLS_ERR_CHECK:
        if (!r->sense_valid) {
            g_snprintf(buf, n,
                       "CHECK CONDITION without sense data "
                       "(SRB status %s)",
                       cls_srb_status_name(r->srb_status));
            break;
        }
        asc = cls_asc_name(r->asc, r->ascq);
        g_snprintf(buf, n, "CHECK CONDITION: %s %02x/%02x/%02x%s%s%s",
                   cls_sense_key_name(r->sense_key), r->sense_key, r->asc,
                   r->ascq, asc ? " (" : "", asc ? asc : "", asc ? ")" : "");
        break;
    case CLS_ERR_SCSI:
        g_snprintf(buf, n, "SCSI status %s (0x%02x)",
                   cls_scsi_status_name(r->scsi_status), r->scsi_status);
        break;
    case CLS_ERR_SRB:
        g_snprintf(buf, n, "SRB status %s (0x%02x)",
                   cls_srb_status_name(r->srb_status), r->srb_status);
        break;
    case CLS_ERR_SHORT:
        g_snprintf(buf, n, "short transfer (%u bytes)", r->transferred);
        break;
    case CLS_ERR_PARAM:
        g_snprintf(buf, n, "not sent: range, buffer or length invalid");
        break;
    default:
        g_snprintf(buf, n, "status %d?", (int)r->status);
        break;
    }
    if (r->retries && r->status != CLS_OK) {
        size_t used = strlen(buf);
        g_snprintf(buf + used, n - used, " after %u retr%s", r->retries,
                   r->retries == 1 ? "y" : "ies");
    }
    return buf;
}

uint64_t cls_retries_total(const ClsCounters *c)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < CLS_RETRY_CAUSES; i++) {
        n += c->retries[i];
    }
    return n;
}

const char *cls_retry_summary(const ClsCounters *c, char *buf, size_t n)
{
    size_t used = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < CLS_RETRY_CAUSES; i++) {
        if (!c->retries[i]) {
            continue;
        }
        used += (size_t)g_snprintf(buf + used, n - MIN(used, n),
                                   "%s%s %" G_GUINT64_FORMAT, used ? ", " : "",
                                   cls_retry_cause_name(i), c->retries[i]);
        if (used >= n) {
            break;
        }
    }
    if (!used) {
        g_snprintf(buf, n, "none");
    } else if (c->exhausted && used < n) {
        g_snprintf(buf + used, n - used, " (%" G_GUINT64_FORMAT " gave up)",
                   c->exhausted);
    }
    return buf;
}
