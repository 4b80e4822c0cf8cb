// An invoice is a draft until it is issued; an issued invoice is never changed again.
export const invoiceStatuses = ['draft', 'issued'] as const;
